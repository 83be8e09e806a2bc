"""The template family's trainer: reconstruct random photo crops with an L1 loss. It shows every hook a
trainer implements; the base class runs the loop (progress bar, checkpoints, previews, --resume)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...runtime.errors import StyleForgeError
from ...runtime.images import make_grid, to_hwc_uint8
from ..core.data import CropDataset
from ..core.trainer import Trainer
from .options import TemplateOptions


class TemplateTrainer(Trainer):
    family = "template"          # its code package: export/template/ exports this family's checkpoints
    method = "template"          # this trainer (a family may have several, as gan has dcgan, wgan …)
    interface = "translator"     # the runtime interface its bundles offer (runtime/families/)
    Options = TemplateOptions

    def check_options(self, o: TemplateOptions) -> None:
        if o.size < 8 or o.size % 4:
            raise StyleForgeError(f"--size must be a multiple of 4 and at least 8, got {o.size}")

    def build(self) -> None:
        o = self.options
        self.add_model("net", "template_net", width=o.width)
        self.add_optimizer("opt", torch.optim.Adam(self.net.parameters(), lr=o.lr))
        self.data = CropDataset.from_source(o.content_dir, o.size, seed=self.seed)

    def next_batch(self, step: int):
        return self.data.batch(step, self.options.batch, shard=self.world).to(self.device) / 127.5 - 1.0

    def train_step(self, batch, step: int) -> dict[str, float]:
        loss = F.l1_loss(self.net(batch), batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.item()}

    @torch.no_grad()
    def preview(self, step: int) -> np.ndarray:
        x = self.data.batch(10**6, 2).to(self.device) / 127.5 - 1.0
        y = self.net.eval()(x)
        self.net.train()
        return make_grid(to_hwc_uint8((torch.cat([x, y]).clamp(-1, 1).cpu().numpy() + 1) * 127.5), ncols=2)

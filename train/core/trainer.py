"""The training loop every trainer shares (the ``BaseModel`` idea of pix2pix/CycleGAN).

A subclass declares only what differs: ``family``, ``method`` and ``interface`` (the words its checkpoint
config carries), how to ``build()`` its modules and optimisers (via :meth:`add_model` / :meth:`add_optimizer`), ``next_batch(step)``,
``train_step(batch, step)`` → ``{loss_name: float}``, and optionally ``preview(step)`` → image.
The base runs the loop with a progress bar, writes checkpoints (weights, optimiser and
scheduler state, RNG, loss history) every ``checkpoint_every`` steps and at the end, writes
previews with them and every ``preview_every`` steps between them, and resumes from the latest checkpoint with ``resume=True``.

Under ``torchrun`` the same loop trains data-parallel (train/core/distributed.py): ``self.world`` says which
rank this is, the batch option (``batch_option``) is the global batch, families read their shard with
``shard=self.world``, gradients are averaged before every optimiser step, batch norm goes global, and only
rank 0 writes.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from ...runtime.atomic import write_text
from ...runtime.errors import StyleForgeError
from ...runtime.images import save_image
from . import distributed
from .checkpoint import load_train_state, read_config, resolve_checkpoint, save_checkpoint
from .options import RUN_ONLY, RunOptions, make_options
from .registry import build_model


class Trainer:
    """Subclasses set ``family`` (their code package under train/), ``method`` (this trainer's name, as in
    ``train gan --method``), ``interface`` (the runtime interface its exported bundles offer), ``Options`` (their
    options dataclass) and implement the hooks below; ``Trainer(out_dir, options_or_dict, **overrides)`` builds and
    runs them."""

    family: str = "base"
    method: str = "base"
    interface: str | None = None
    Options: type = RunOptions
    batch_option: str = "batch"   # the option holding the (global) batch size

    def __init__(self, out_dir: str | Path, options=None, /, **overrides):
        import torch

        self.out_dir = Path(out_dir)
        self.options, self.given = make_options(self.Options, options, overrides, what=f"train {self.method}")
        if self.options.resume:
            self.options = self._with_resumed_options(self.options, self.given)
        o = self.options
        if o.steps <= 0:
            raise StyleForgeError(f"--steps must be positive, got {o.steps}")
        self.world, device = distributed.setup(o.device)
        self.steps, self.seed, self.device = int(o.steps), int(o.seed), torch.device(device)
        self.checkpoint_every = max(1, int(o.checkpoint_every or max(1, self.steps // 4)))
        self.preview_every = int(o.preview_every or self.checkpoint_every)
        self.resume, self.progress = bool(o.resume), bool(o.progress)
        self.check_options(o)
        self.opts: dict = self.derive_options(o)  # what the family code reads and the checkpoint records
        self.global_batch = int(self.opts.get(self.batch_option) or 1)
        self.world.check_batch(self.global_batch, "--" + self.batch_option.replace("_", "-"))
        self.train_config = {k: v for k, v in self.opts.items() if k not in RUN_ONLY}
        self.model_specs: dict[str, dict] = {}
        self.modules: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict = {}
        self.history: list[dict] = []
        self.step = 0
        torch.manual_seed(self.seed)
        self.build()
        distributed.broadcast_state(self.modules, self.world)

    def _with_resumed_options(self, options, given: set):
        """On --resume, options not given again come from the run's checkpoint (its ``train`` config)."""
        try:
            old = read_config(resolve_checkpoint(self.out_dir)).get("train", {})
        except StyleForgeError:
            return options
        names = {f.name for f in dataclasses.fields(options)}
        keep = {k: v for k, v in old.items() if k in names and k not in given and k not in ("steps", *RUN_ONLY)}
        return dataclasses.replace(options, **keep)

    @classmethod
    def run_dir(cls, out: str | Path, options) -> Path:
        """Where a run of these options lives under ``--out`` (WCT puts each level in OUT/level{L})."""
        return Path(out)

    def report(self, checkpoint: Path) -> str:
        """The line ``styleforge train`` prints at the end."""
        return f"wrote {checkpoint}"

    # --- what subclasses declare -------------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def next_batch(self, step: int):
        raise NotImplementedError

    def train_step(self, batch, step: int) -> dict[str, float]:
        raise NotImplementedError

    def preview(self, step: int) -> np.ndarray | None:
        return None

    def check_options(self, options) -> None:
        """Refuse bad option values with one line before anything is built. A pure check: it changes nothing."""

    def derive_options(self, options) -> dict:
        """The options as the trainer reads them and the checkpoint's ``train`` config records them: the dataclass
        as a dict, where a subclass may fill in derived values (a default that depends on ``steps``) or leave out
        what a run of it does not use. Called once, after :meth:`check_options`."""
        return dataclasses.asdict(options)

    def extra_config(self) -> dict:
        """Extra fields for the checkpoint config (e.g. ``loss_network``)."""
        return {}

    def extra_tensors(self) -> dict:
        """Extra tensors to checkpoint (e.g. image pools, EMA shadows)."""
        return {}

    def load_extra_tensors(self, tensors: dict) -> None:
        pass

    # --- helpers for subclasses --------------------------------------------------------------
    def add_model(self, attr: str, name: str, **config):
        """Build a registered model, remember its spec for the checkpoint, move it to the device."""
        module = distributed.global_batch_norm(build_model(name, **config).to(self.device), self.world, self.device)
        self.model_specs[attr] = {"name": name, "config": config}
        self.modules[attr] = module
        setattr(self, attr, module)
        return module

    def add_optimizer(self, attr: str, optimizer, scheduler=None):
        distributed.average_gradients_before_step(optimizer, self.world)
        self.optimizers[attr] = optimizer
        setattr(self, attr, optimizer)
        if scheduler is not None:
            self.schedulers[attr] = scheduler
        return optimizer

    # --- the loop ----------------------------------------------------------------------------
    def config(self) -> dict:
        return {"family": self.family, "method": self.method, "interface": self.interface, "models": self.model_specs,
                "train": self.train_config, **self.extra_config(),
                "data_parallel": {"world_size": self.world.size, "global_batch": self.global_batch,
                                  "per_rank_batch": self.global_batch // self.world.size, "backend": self.world.backend}}

    def save(self) -> Path:
        """Checkpoint (and preview) the current step; only rank 0 writes, every rank gets the path."""
        if not self.world.main:
            return self.out_dir / "checkpoints" / f"step-{self.step:07d}"
        ckpt = save_checkpoint(self.out_dir, self.step, config=self.config(), modules=self.modules,
                               optimizers=self.optimizers, schedulers=self.schedulers,
                               extra_tensors=self.extra_tensors(), state={"history": self.history, "seed": self.seed})
        self.write_preview()
        return ckpt

    def write_preview(self) -> Path | None:
        """RUN/previews/step-NNNNNNN.png from :meth:`preview` (rank 0 only; None when the trainer has none).
        Written with every checkpoint and every ``preview_every`` steps between them."""
        if not self.world.main:
            return None
        img = self.preview(self.step)
        if img is None:
            return None
        path = self.out_dir / "previews" / f"step-{self.step:07d}.png"
        save_image(path, img)
        return path

    def try_resume(self) -> bool:
        try:
            ckpt = resolve_checkpoint(self.out_dir)
        except StyleForgeError:
            return False
        state = load_train_state(ckpt, modules=self.modules, optimizers=self.optimizers, schedulers=self.schedulers)
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self.load_extra_tensors(state.get("extra_tensors", {}))
        if self.world.main:
            print(f"resumed from {ckpt} at step {self.step}", file=sys.stderr)
        return True

    def fit(self) -> Path:
        """Train to ``steps`` (continuing from the latest checkpoint with ``resume``); returns the final checkpoint."""
        from tqdm import tqdm

        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.resume:
            if not self.try_resume() and self.world.main:
                print(f"--resume: no checkpoint in {self.out_dir}; starting from step 0", file=sys.stderr)
        elif (self.out_dir / "checkpoints" / "LATEST").exists():
            raise StyleForgeError(f"{self.out_dir} already holds a run; pass --resume to continue it or choose another --out")
        if self.world.main:
            write_text(self.out_dir / "run.json", json.dumps(self.config(), indent=2) + "\n")
        for m in self.modules.values():
            m.train()
        last_ckpt = None
        bar = tqdm(total=self.steps, initial=self.step, desc=self.method, disable=not (self.progress and self.world.main),
                   dynamic_ncols=True, file=sys.stderr)
        while self.step < self.steps:
            batch = self.next_batch(self.step)
            losses = self.train_step(batch, self.step)
            self.step += 1
            losses = distributed.mean_over_ranks({k: float(v) for k, v in losses.items()}, self.world)
            bad = [k for k, v in losses.items() if not np.isfinite(v)]
            if bad:
                raise StyleForgeError(f"step {self.step}: loss {', '.join(bad)} is not finite; lower the learning rate or loss weights")
            self.history.append({"step": self.step, **losses})
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
            bar.update(1)
            if self.step % self.checkpoint_every == 0 or self.step == self.steps:
                last_ckpt = self.save()
            elif self.step % self.preview_every == 0:
                self.write_preview()
        bar.close()
        distributed.barrier(self.world)  # rank 0's last checkpoint is on disk when any rank returns
        if last_ckpt is None:  # resumed at or past the target
            last_ckpt = resolve_checkpoint(self.out_dir)
        return last_ckpt

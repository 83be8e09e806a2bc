"""``torch-eager`` and ``torch-cuda``: the bundle's source PyTorch model as runners (the reference a bundle is
compared with). Their code is export/core/torch_backend.py (it needs torch and ``styleforge[train]``); here
they are only registered by module path, so the runtime names them without importing torch."""
from __future__ import annotations

from . import register_lazy

TORCH_NEED = "torch and styleforge[train] (pip install 'styleforge[train]')"
TORCH_MODULES = ("torch", "styleforge.export", "styleforge.train")

for _name, _cls, _device in (("torch-eager", "TorchEagerRunner", "cpu"), ("torch-cuda", "TorchCudaRunner", "cuda")):
    register_lazy(_name, f"styleforge.export.core.torch_backend:{_cls}", requires=TORCH_MODULES, need=TORCH_NEED,
                  device=_device, reference=True, precision="fp32")

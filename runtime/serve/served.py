"""A bundle behind an endpoint: how its requests are keyed for batching, how a batch runs, and its warm-up.

Each interface's spec (runtime/interfaces.py, registered in runtime/families/) answers these: its endpoint
(``stylizer`` and ``wct`` → ``stylize``, ``translator`` → ``translate``, ``generator`` → ``generate``), its batch
key (what must be equal inside one graph run: the image size, + ``reverse`` for CycleGAN), which requests run
alone (WCT: each carries its own style image; any image large enough to be tiled), the batch call and the warm-up.
Per-image options ride inside a batch (a stylizer's ``style_index`` is a per-image input of its graph,
``preserve_color`` is applied per image afterwards).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ServeConfig



def endpoints() -> dict[str, str]:
    """Served interface → its endpoint verb (from the interface specs)."""
    from ..interfaces import interface_specs

    return {n: s.endpoint for n, s in interface_specs().items() if s.endpoint}


def bundle_name(path: str | Path) -> str:
    """The name a bundle is served under: its file stem (``mosaic.sfbundle`` → ``mosaic``)."""
    name = Path(str(path).rstrip("/")).name
    return name.removesuffix(".sfbundle") if name.endswith(".sfbundle") else Path(name).stem


class ServedModel:
    """A loaded bundle plus how to batch it. `ready` turns true after :meth:`warmup`."""

    def __init__(self, name: str, path: str | Path, cfg: ServeConfig):
        from ..backends import resolve_backend
        from ..errors import StyleForgeError
        from ..model import load

        self.name, self.path = name, str(path)
        self.backend = resolve_backend(cfg.backend)
        self.model = load(path, backend=self.backend, **({"threads": cfg.ort_threads} if cfg.ort_threads else {}),
                          **({"allow_engine_host_code": True} if cfg.allow_engine_host_code else {}))
        self.interface = self.model.manifest.model.interface
        self.spec = self.model.spec
        if not self.spec.endpoint:
            raise StyleForgeError(f"{path}: a {self.interface!r} bundle has no HTTP endpoint "
                                  f"(served interfaces: {', '.join(endpoints())})")
        self.endpoint = self.spec.endpoint
        self.ready = False

    def info(self) -> dict:
        """The model's entry in ``/v1/models``: who it is (name, family, method, interface), where to call it, how
        it runs, and what its interface adds (styles, classes, reversible)."""
        m = self.model.manifest
        return {"name": self.name, "family": m.model.family, "method": m.model.method, "interface": self.interface,
                "endpoint": f"/v1/models/{self.name}/{self.endpoint}", "precision": m.precision, "backend": self.backend,
                **self.spec.info(self.model)}

    def key(self, payload: dict):
        """What must be equal for two requests to share a graph run."""
        return self.spec.batch_key(payload)

    def alone(self, payload: dict) -> bool:
        """Whether a request runs on its own: its interface says so (WCT) or the image is large enough to be tiled."""
        return self.spec.runs_alone(payload) or self.tiled(payload)

    def tiled(self, payload: dict) -> bool:
        """Images above AUTO_TILE_PIXELS run in tiles (flat memory) where the bundle has tiling graphs."""
        from ..tiling import AUTO_TILE_PIXELS

        image = payload.get("image")
        role = self.spec.tile_role(payload)
        return (image is not None and image.shape[0] * image.shape[1] > AUTO_TILE_PIXELS
                and role is not None and self.model.can_tile(role))

    def run_batch(self, key, payloads: list[dict]) -> list[np.ndarray]:
        """One graph run for a batch of requests (runs in an inference thread)."""
        tiled = len(payloads) == 1 and self.tiled(payloads[0])
        return self.spec.run_batch(self.model, payloads, tiled=tiled)

    def warmup(self, size: int) -> None:
        """Run every graph once, so sessions exist before requests arrive and the first request pays no start-up
        cost (session creation is lazy; it is thread-safe, RuntimeModel.session, but slow)."""
        img = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        self.spec.warm_up(self.model, img)
        self.ready = True


def __getattr__(name: str):
    """``ENDPOINTS`` (the table this module kept before the interface specs), with a warning."""
    if name == "ENDPOINTS":
        import warnings

        warnings.warn("served.ENDPOINTS is deprecated; use served.endpoints() (from the interface specs)",
                      DeprecationWarning, stacklevel=2)
        return endpoints()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""A bundle behind an endpoint: how its requests are keyed for batching, how a batch runs, and its warm-up.

Interface → endpoint: ``stylizer`` and ``wct`` → ``stylize``, ``translator`` → ``translate``, ``generator`` →
``generate``. What must be equal inside one graph run is the batch key: the image size (+ ``reverse`` for
CycleGAN); per-image options ride inside a batch (a stylizer's ``style_index`` is a per-image input of its graph,
``preserve_color`` is applied per image afterwards). WCT requests run alone: each carries its own style image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ApiError, ServeConfig

ENDPOINTS = {"stylizer": "stylize", "wct": "stylize", "translator": "translate", "generator": "generate"}


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
        if self.interface not in ENDPOINTS:
            raise StyleForgeError(f"{path}: a {self.interface!r} bundle has no HTTP endpoint "
                                  f"(served interfaces: {', '.join(ENDPOINTS)})")
        self.endpoint = ENDPOINTS[self.interface]
        self.ready = False

    def info(self) -> dict:
        m = self.model.manifest
        d = {"name": self.name, "family": m.model.family, "method": m.model.method, "interface": self.interface,
             "endpoint": f"/v1/models/{self.name}/{self.endpoint}", "precision": m.precision, "backend": self.backend}
        if self.interface == "stylizer":
            d.update(num_styles=self.model.num_styles, styles=list(m.model.config.styles or []))
        elif self.interface == "translator":
            d["reversible"] = self.model.reversible
        elif self.interface == "generator":
            d.update(n_classes=self.model.n_classes, classes=list(m.model.config.classes or []))
        return d

    def key(self, payload: dict):
        """What must be equal for two requests to share a graph run."""
        if self.interface == "generator":
            return ("latent",)
        return (payload["image"].shape[:2], payload.get("reverse", False))

    def alone(self, payload: dict) -> bool:
        """Whether a request runs on its own: WCT (its own style image) and images large enough to be tiled."""
        return self.interface == "wct" or self.tiled(payload)

    def tiled(self, payload: dict) -> bool:
        """Images above AUTO_TILE_PIXELS run in tiles (flat memory) where the bundle has tiling graphs."""
        from ..tiling import AUTO_TILE_PIXELS

        image = payload.get("image")
        role = "translate_reverse" if payload.get("reverse") else ENDPOINTS[self.interface]
        return (image is not None and image.shape[0] * image.shape[1] > AUTO_TILE_PIXELS
                and self.interface in ("stylizer", "translator") and self.model.can_tile(role))

    def run_batch(self, key, payloads: list[dict]) -> list[np.ndarray]:
        """One graph run for a batch of requests (runs in an inference thread)."""
        m = self.model
        if len(payloads) == 1 and self.tiled(payloads[0]):
            p = payloads[0]
            if self.interface == "stylizer":
                return [m.stylize_tiled(p["image"], style_index=p["style_index"], preserve_color=p.get("preserve_color"))]
            return [m.translate_tiled(p["image"], reverse=p.get("reverse", False))]
        if self.interface == "stylizer":
            outs = m.stylize_batch([p["image"] for p in payloads], style_index=[p["style_index"] for p in payloads])
            from ..families.stylizer import preserve_colors

            return [preserve_colors(o, p["image"], p["preserve_color"]) if p.get("preserve_color") else o
                    for o, p in zip(outs, payloads)]
        if self.interface == "translator":
            from ..images import to_hwc_uint8, to_nchw_float  # one graph run for the batch (same size: the key)

            return to_hwc_uint8(m.translate_raw(to_nchw_float([p["image"] for p in payloads]),
                                                reverse=payloads[0].get("reverse", False)))
        if self.interface == "generator":
            labels = [p["label"] for p in payloads] if m.n_classes else None
            return m.generate(m.latents([p["seed"] for p in payloads]), labels)
        if self.interface == "wct":
            return [m(p["image"], style=p["style"], alpha=p.get("alpha")) for p in payloads]
        raise ApiError(400, f"model {self.name}: interface {self.interface} cannot be served")

    def warmup(self, size: int) -> None:
        """Run every graph once, so sessions exist before requests arrive (session creation is lazy and not
        thread-safe) and the first request pays no start-up cost."""
        img = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        if self.interface == "stylizer":
            self.run_batch(None, [{"image": img, "style_index": 0}] * 2)
        elif self.interface == "translator":
            self.model.translate([img])
            if self.model.reversible:
                self.model.translate([img], reverse=True)
        elif self.interface == "generator":
            self.run_batch(None, [{"seed": 0, "label": 0}])
        elif self.interface == "wct":
            self.model(img, style=img[::-1].copy())
        self.ready = True

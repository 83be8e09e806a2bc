"""The PyTorch side of a bundle as a runner: ``TorchRunner`` rebuilds the family's PyTorch model from the
bundle's source checkpoint (or a checkpoint you name) and runs the same feeds as the bundle's graph, with
``.run(feeds) -> dict`` like a runtime session. It is what the ``torch-eager`` (``device="cpu"``) and
``torch-cuda`` runners load (export/core/torch_backend.py wraps it as a runtime Runner, with the lifecycle,
selection and typed results of every runner); benchmarks/ also use it directly:

    from styleforge.export.core.torch_runner import TorchRunner

    r = TorchRunner("mosaic.sfbundle", device="cuda", mode="cuda-graphs", fp16=False, channels_last=False)
    out = r.run({"image": x})              # numpy in (the graph's input names), numpy out (its output names)
    r.name, r.role, r.input_names, r.output_names, r.last_inference_time

- ``bundle_or_checkpoint``: a bundle (its manifest's ``source_checkpoint``, its graph roles) or a checkpoint /
  run folder / WCT folder (then the family's roles; pass ``role``).
- ``role``: the graph to mirror (default: the bundle's first graph); WCT bundles: ``encode_style``,
  ``stylize``, ``stylize_pair`` via the WCTPipeline of train/wct; generators: ``generate`` and
  ``generate_dissect.<layer>``; translators: ``translate`` (``translate_reverse``).
- ``mode``: ``eager`` (``torch.inference_mode``) or ``cuda-graphs`` (CUDA only: per input shape, two warm-up
  runs on a side stream, one capture with ``torch.cuda.graph``, then replays with the inputs copied into the
  captured buffers).
- ``fp16``: module and floating inputs in half precision, outputs returned as float32. ``channels_last``:
  module and 4-D inputs in channels-last memory format.
- ``run_torch(feeds)``: outputs as tensors on the device (synchronised), no copy to the host.

Names (``name``): ``torch-eager`` on the CPU; ``torch-cuda`` / ``torch-cuda-graphs`` on a GPU; ``-fp16`` and
``-cl`` suffixes for those options. Which module backs each graph is declared by the family's exporter
(``ExportFamily.torch_graphs``), the same module that was exported.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError

MODES = ("eager", "cuda-graphs")


def _source(bundle_or_checkpoint):
    """(export family, source checkpoint path, bundle manifest or None)."""
    from ...runtime.bundle import read_manifest
    from ...runtime.manifest import MANIFEST
    from .family import export_families, find_family

    path = Path(bundle_or_checkpoint)
    if (path / MANIFEST).is_file():
        manifest = read_manifest(path)
        src = manifest.source_checkpoint
        if not src:
            raise StyleForgeError(f"{path}: manifest names no source checkpoint; pass the checkpoint instead")
        if not Path(src).exists():
            raise StyleForgeError(f"{path}: its source checkpoint {src} is gone; pass the checkpoint instead")
        families = export_families()
        fam = families.get(manifest.model.family)
        if fam is None:
            raise StyleForgeError(f"{path}: no exporter for family {manifest.model.family!r} "
                                  f"(have: {', '.join(sorted(families))})")
        return fam, Path(src), manifest
    fam, _, source = find_family(path)
    return fam, source, None


class TorchRunner:
    """A bundle graph's PyTorch model, run like a session (see the module docstring)."""

    def __init__(self, bundle_or_checkpoint, device: str = "cuda", mode: str = "eager", fp16: bool = False,
                 channels_last: bool = False, *, role: str | None = None, threads: int | None = None):
        import torch

        if mode not in MODES:
            raise StyleForgeError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise StyleForgeError("device cuda: this PyTorch has no usable CUDA device (a CPU build, or no GPU/driver)")
        if mode == "cuda-graphs" and self.device.type != "cuda":
            raise StyleForgeError("mode cuda-graphs needs device cuda")
        if threads:
            torch.set_num_threads(int(threads))
        fam, source, manifest = _source(bundle_or_checkpoint)
        if not fam.torch_graphs:
            raise StyleForgeError(f"the {fam.name} exporter declares no PyTorch graphs (ExportFamily.torch_graphs)")
        graphs = fam.resolve(fam.torch_graphs)(source)
        roles = [g.role for g in manifest.graphs] if manifest is not None else list(graphs)
        self.role = role or roles[0]
        if self.role not in graphs or self.role not in roles:
            raise StyleForgeError(f"no graph {self.role!r} to mirror (have: {', '.join(r for r in roles if r in graphs)})")
        g = graphs[self.role]
        if manifest is not None:
            spec = manifest.graph(self.role)
            if spec.input_names != g.inputs or [t.name for t in spec.outputs] != g.outputs:
                raise StyleForgeError(f"the {fam.name} exporter's PyTorch graph {self.role!r} takes {g.inputs} → "
                                      f"{g.outputs}, the bundle's graph {spec.input_names} → "
                                      f"{[t.name for t in spec.outputs]}: they must match")
        self.input_names, self.output_names = list(g.inputs), list(g.outputs)
        self.mode, self.fp16, self.channels_last = mode, bool(fp16), bool(channels_last)
        module = g.module.eval().to(self.device)
        if self.fp16:
            module = module.half()
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self.source = source
        self.last_inference_time: float | None = None
        self._graphs: dict = {}
        kind = "torch-eager" if self.device.type == "cpu" else (
            "torch-cuda" if mode == "eager" else "torch-cuda-graphs")
        self.name = kind + ("-fp16" if self.fp16 else "") + ("-cl" if self.channels_last else "")

    def _tensors(self, feeds: dict) -> list:
        import torch

        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise StyleForgeError(f"graph {self.role!r} needs input(s) {', '.join(missing)} "
                                  f"(it takes: {', '.join(self.input_names)})")
        out = []
        for n in self.input_names:
            t = torch.as_tensor(np.ascontiguousarray(feeds[n])).to(self.device, non_blocking=True)
            if self.fp16 and t.is_floating_point():
                t = t.half()
            if self.channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            out.append(t)
        return out

    def _graphed(self, args: list):
        """Replay a CUDA graph of the module for these input shapes (captured on the first call with them)."""
        import torch

        key = tuple((tuple(a.shape), a.dtype) for a in args)
        if key not in self._graphs:
            static = [a.clone() for a in args]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(2):  # warm up outside the capture (cuDNN autotuning, allocations)
                    self.module(*static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph), torch.no_grad():
                    out = self.module(*static)
            except Exception as e:  # a host sync or an allocation the capture cannot take
                raise StyleForgeError(f"{self.role}: CUDA graph capture failed for this model "
                                      f"({type(e).__name__}: {(str(e).splitlines() or [''])[0]}); use mode='eager'") from None
            self._graphs[key] = (graph, static, out)
        graph, static, out = self._graphs[key]
        for s, a in zip(static, args):
            s.copy_(a)
        graph.replay()
        return out

    def run_torch(self, feeds: dict) -> dict:
        """Outputs as tensors on the runner's device (the device is synchronised)."""
        import torch

        args = self._tensors(feeds)
        t0 = time.perf_counter()
        if self.mode == "cuda-graphs":
            out = self._graphed(args)
        else:
            with torch.inference_mode():
                out = self.module(*args)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.last_inference_time = time.perf_counter() - t0
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if len(outs) != len(self.output_names):
            raise StyleForgeError(f"graph {self.role!r}: the module returned {len(outs)} outputs, expected "
                                  f"{len(self.output_names)} ({', '.join(self.output_names)})")
        return dict(zip(self.output_names, outs))

    def run(self, feeds: dict) -> dict:
        """Numpy in, numpy out (float outputs as float32), like a runtime session."""
        out = {}
        for k, v in self.run_torch(feeds).items():
            v = v.detach()
            if v.is_floating_point():
                v = v.float()
            out[k] = v.contiguous().cpu().numpy()
        return out

    def describe(self) -> str:
        return f"{self.name} on {self.role!r} ({self.source})"

"""``torch-eager`` and ``torch-cuda`` as runners (runtime/backends/base.py): the bundle's source PyTorch model,
loaded by :class:`TorchModuleLoader` (a :class:`~.torch_runner.TorchRunner`), run through the same
lifecycle, selection and typed results as the ONNX Runtime and TensorRT runners. Registered lazily by module
path in runtime/backends/pytorch.py, so the runtime names them without importing torch.

They run what the graph was exported from, on the graph's own feeds, so they need a bundle whose graphs take
float NCHW pixels (a ``uint8-nhwc`` variant's graph takes what the module does not). Options: ``threads``,
``checkpoint`` (instead of the bundle's source checkpoint), ``mode`` (``eager``/``cuda-graphs``), ``fp16``,
``channels_last``; others (ONNX Runtime's) are ignored."""
from __future__ import annotations

from typing import ClassVar

from ...runtime.backends.base import Runner, Verdict


class TorchModuleLoader:
    """Rebuilds the PyTorch module behind graph `role` of a bundle (its source checkpoint, or `checkpoint`)."""

    def __init__(self, bundle, role: str, *, device: str, threads: int | None = None, checkpoint=None,
                 mode: str = "eager", fp16: bool = False, channels_last: bool = False):
        self.bundle, self.role, self.device, self.threads, self.checkpoint = bundle, role, device, threads, checkpoint
        self.mode, self.fp16, self.channels_last = mode, fp16, channels_last

    def __call__(self):
        from .torch_runner import TorchRunner

        return TorchRunner(self.checkpoint or self.bundle.path, device=self.device, mode=self.mode, fp16=self.fp16,
                           channels_last=self.channels_last, role=self.role, threads=self.threads)


class TorchEagerRunner(Runner):
    """The source PyTorch model on the CPU (``torch.inference_mode``): the reference a bundle is compared with."""

    name: ClassVar[str] = "torch-eager"
    torch_device: ClassVar[str] = "cpu"
    needs = ("torch and styleforge[train] (pip install 'styleforge[train]')",
             "the bundle's source checkpoint (or --checkpoint)")
    thread_policy = "serial"
    reference = True
    precision = "fp32"

    @classmethod
    def probe(cls) -> Verdict:
        try:
            import torch
        except ImportError as e:
            return Verdict.no(f"needs torch and styleforge[train] ({e})")
        return Verdict.yes(f"torch {torch.__version__}")

    @classmethod
    def _supports(cls, bundle, role: str, options: dict) -> Verdict | None:
        """No for graphs that do not take float NCHW pixels, and for families without an exporter."""
        lineage = bundle.manifest.lineage
        io = lineage.io if lineage is not None else "float-nchw"
        if io != "float-nchw":
            return Verdict.no(f"the PyTorch module takes float NCHW pixels; this bundle's graphs take {io} "
                              "(compare with the bundle it was converted from)")
        from .family import export_families

        if bundle.manifest.model.family not in export_families():
            return Verdict.no(f"no exporter for family {bundle.manifest.model.family!r} (an imported graph has no "
                              "PyTorch source)")
        return None

    def __init__(self, bundle, role: str, *, threads: int | None = None, checkpoint=None, mode: str = "eager",
                 fp16: bool = False, channels_last: bool = False, **options):
        super().__init__(bundle, role, **options)
        self.module_runner = None
        if self.loader is None:
            self.loader = TorchModuleLoader(bundle, role, device=self.torch_device, threads=threads,
                                            checkpoint=checkpoint, mode=mode, fp16=fp16, channels_last=channels_last)

    def activate_impl(self) -> None:
        runner = self.load()
        self.module_runner = runner
        self.input_names, self.output_names = list(runner.input_names), list(runner.output_names)

    def deactivate_impl(self) -> None:
        self.module_runner = None

    def run_impl(self, feeds: dict) -> dict:
        return self.module_runner.run(feeds)

    @property
    def providers(self) -> list[str]:
        return [self.module_runner.name if self.module_runner is not None else self.name]


class TorchCudaRunner(TorchEagerRunner):
    """The source PyTorch model on a CUDA GPU (fp32 with PyTorch's TF32 defaults; ``mode="cuda-graphs"`` replays)."""

    name: ClassVar[str] = "torch-cuda"
    torch_device: ClassVar[str] = "cuda"
    device = "cuda"

    @classmethod
    def probe(cls) -> Verdict:
        v = super().probe()
        if not v:
            return v
        import torch

        if not torch.cuda.is_available():
            return Verdict.no("this PyTorch has no usable CUDA device (a CPU build, or no GPU/driver)")
        return Verdict.yes(f"{v.why} on {torch.cuda.get_device_name(0)}")


"""The whitening–colouring transform as a TensorRT plugin, and the ONNX node that resolves to it.

Choice: a Python plugin through ``tensorrt.plugin`` (TensorRT's "quickly deployable plugins",
TensorRT >= 10.6) with a JIT ``impl`` that launches the same kernels as the PyTorch ops
(kernels/ops.py → wct.cu, covariance.cu), not a C++ ``IPluginV3`` and not an AOT ``aot_impl``:

- ``aot_impl`` embeds ONE kernel (PTX + launch parameters) per plugin; our WCT is a fixed sequence of
  2·iters + 9 launches with a workspace (covariances, Newton–Schulz ping-pong, apply), which an AOT
  plugin cannot express.
- StyleForge's runtime is Python already (numpy + onnxruntime/tensorrt); the kernels' loader
  (NVRTC → cubin cache → cuda-python launches) is reused as is, from one CUDA source.
- No machine of this project has TensorRT headers/libraries to compile or test a C++ plugin.
Cost: the process that builds or runs an engine with this node must ``import styleforge.kernels.trt_plugin``
and call :func:`register_plugin` first (the runtime's TensorRT backend does), and the engine needs a
Python process (not usable from a C++-only TensorRT deployment).

ONNX node (TensorRT's ONNX parser falls back to the plugin registry for unknown operators):
``op_type = "WhitenColor"`` (the plugin name; it must not be a standard ONNX op name), ``domain =
"styleforge"`` (declared in the model's opset_import, version 1), attributes ``plugin_namespace =
"styleforge"`` and ``plugin_version = "1"`` (the parser's lookup keys; without them it looks in the
empty namespace at version "1"), and the plugin's own attributes ``alpha``, ``reg``, ``color_reg``
(FLOAT) and ``iters`` (INT). Inputs: content features ``fc`` [B, C, Nc] fp32, style features ``fs`` [B or 1, C, Ns]
fp32; output [B, C, Nc] fp32.

Importing this module needs neither TensorRT, onnx, torch nor CUDA.

No ``from __future__ import annotations`` in this module: ``tensorrt.plugin.register``/``impl`` inspect
the decorated functions' annotations with ``issubclass`` (TensorRT's plugin/_validate.py), so they must
be real classes, not strings (TypeError in TensorRT 10.6-11.1, ValueError from 11.2).
"""

PLUGIN_NAME = "WhitenColor"
PLUGIN_NAMESPACE = "styleforge"
PLUGIN_VERSION = "1"
PLUGIN_ID = f"{PLUGIN_NAMESPACE}::{PLUGIN_NAME}"
ONNX_DOMAIN = "styleforge"
ONNX_DOMAIN_VERSION = 1
#: Plugin attributes with their ONNX attribute types and defaults (train/wct/transforms.py's policy: relative
#: ridges, whitening (Σc + reg·trΣc/C)^{-1/2}, colouring Σs (Σs + color_reg·trΣs/C)^{-1/2}; the pipeline's values).
ATTRIBUTES = {"alpha": ("FLOAT", 1.0), "reg": ("FLOAT", 1e-2), "color_reg": ("FLOAT", 1e-4), "iters": ("INT", 20)}

_registered = False
_failed: Exception | None = None


def tensorrt_plugin_module():
    """``tensorrt.plugin``; the split PyPI wheels 10.6-10.13 ship it only as ``tensorrt_bindings.plugin``
    (their ``tensorrt`` front end gained a ``plugin`` package in 10.14)."""
    try:
        import tensorrt.plugin as trtp
    except ImportError as first:
        try:
            import tensorrt_bindings.plugin as trtp
        except ImportError:
            raise first from None
    return trtp


def register_plugin() -> None:
    """Register ``styleforge::WhitenColor`` with TensorRT's plugin registry (idempotent).

    Needs ``tensorrt`` (>= 10.6, for ``tensorrt.plugin``) and cuda-python; raises StyleForgeError
    saying which is missing.
    """
    global _registered, _failed
    from ..runtime.errors import StyleForgeError

    if _registered:
        return
    if _failed is not None:  # TensorRT keeps a half-made definition; a second try would only say "already defined"
        raise StyleForgeError(f"the WhitenColor TensorRT plugin could not be registered: "
                              f"{type(_failed).__name__}: {_failed}")
    try:
        trtp = tensorrt_plugin_module()
    except ImportError as e:
        raise StyleForgeError(f"the WhitenColor TensorRT plugin needs tensorrt >= 10.6 with tensorrt.plugin ({e})") from None
    from typing import Tuple

    import numpy as np
    import numpy.typing as npt

    # Attributes as 1-element numpy arrays, not float/int: TensorRT 10.6-11.1 build the attribute with
    # ``float(f.data)`` where f.data is a 1-element array (plugin/_lib.py _TemplatePluginCreator.create_plugin),
    # which NumPy >= 2.4 refuses (TypeError). NDArray attributes go through ``f.data.astype(dtype)`` instead.
    # The ONNX parser hands FLOAT attributes over as float32 and INT as int32 (onnx-tensorrt loadFields).
    F32, I32 = npt.NDArray[np.float32], npt.NDArray[np.int32]

    def one(a) -> float:
        return np.asarray(a).reshape(-1)[0].item()

    try:
        @trtp.register(PLUGIN_ID)
        def _desc(fc: trtp.TensorDesc, fs: trtp.TensorDesc, alpha: F32, reg: F32, color_reg: F32,
                  iters: I32) -> trtp.TensorDesc:
            return fc.like()

        @trtp.impl(PLUGIN_ID)
        def _impl(fc: trtp.Tensor, fs: trtp.Tensor, alpha: F32, reg: F32, color_reg: F32, iters: I32,
                  outputs: Tuple[trtp.Tensor], stream: int) -> None:
            run_plugin(fc, fs, outputs[0], alpha=float(one(alpha)), reg=float(one(reg)),
                       color_reg=float(one(color_reg)), iters=int(one(iters)), stream=stream)
    except Exception as e:  # TensorRT raises TypeError/ValueError/AssertionError from its validation
        _failed = e
        raise StyleForgeError(f"the WhitenColor TensorRT plugin could not be registered with TensorRT: "
                              f"{type(e).__name__}: {e}") from e

    _registered = True


def run_plugin(fc, fs, out, *, alpha: float, reg: float, color_reg: float, iters: int, stream: int) -> None:
    """The plugin body: WCT on device buffers (anything with __cuda_array_interface__ / a pointer and a
    ``shape``), workspace from the stream-ordered allocator, no host synchronisation."""
    from cuda.bindings import driver

    from . import loader, ops

    bc, c, nc = (int(s) for s in fc.shape)
    bs, _, ns = (int(s) for s in fs.shape)
    sms = loader.multiprocessor_count()
    nbytes = 4 * ops.WctWorkspace.sizes(bc, bs, c, nc, ns, num_sms=sms).total()
    work = loader._check(driver.cuMemAllocAsync(nbytes, stream), "cuMemAllocAsync")
    try:
        ops.whiten_color(fc, fs, out, int(work), Bc=bc, Bs=bs, C=c, Nc=nc, Ns=ns, alpha=float(alpha), reg=float(reg),
                         color_reg=float(color_reg), iters=int(iters), stream=stream)
    finally:
        loader._check(driver.cuMemFreeAsync(work, stream), "cuMemFreeAsync")


# --------------------------------------------------------------------------------------------- ONNX
def node_attributes(alpha: float = 1.0, reg: float = 1e-2, color_reg: float = 1e-4, iters: int = 20) -> dict:
    """The attributes of a WhitenColor node, TensorRT's lookup keys included."""
    return {"plugin_namespace": PLUGIN_NAMESPACE, "plugin_version": PLUGIN_VERSION, "alpha": float(alpha),
            "reg": float(reg), "color_reg": float(color_reg), "iters": int(iters)}


def make_node(fc: str, fs: str, out: str, *, name: str = "whiten_color", **attrs):
    """An onnx NodeProto for the plugin (inputs fc, fs; output out)."""
    from onnx import helper

    return helper.make_node(PLUGIN_NAME, [fc, fs], [out], name=name, domain=ONNX_DOMAIN, **node_attributes(**attrs))


def make_model(channels: "int | str" = "C", *, opset: int = 17, **attrs) -> bytes:
    """A one-node model fc [B, C, Nc], fs [Bs, C, Ns] → out [B, C, Nc] (fp32): the plugin's contract."""
    import onnx
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [make_node("fc", "fs", "out", **attrs)], "styleforge_whiten_color",
        [helper.make_tensor_value_info("fc", f, ["B", channels, "Nc"]),
         helper.make_tensor_value_info("fs", f, ["Bs", channels, "Ns"])],
        [helper.make_tensor_value_info("out", f, ["B", channels, "Nc"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    helper.make_opsetid(ONNX_DOMAIN, ONNX_DOMAIN_VERSION)],
                              producer_name="styleforge")
    onnx.checker.check_model(model)
    return model.SerializeToString()


class _WhitenColorFn:
    """torch.autograd.Function (built lazily) whose ONNX symbolic is the plugin node."""

    fn = None

    @classmethod
    def get(cls):
        if cls.fn is None:
            import torch

            class WhitenColor(torch.autograd.Function):
                @staticmethod
                def forward(ctx, fc, fs, alpha, reg, color_reg, iters):
                    from .torch_ops import whiten_color_op

                    return whiten_color_op(fc, fs, alpha, reg, color_reg, iters)

                @staticmethod
                def symbolic(g, fc, fs, alpha, reg, color_reg, iters):
                    out = g.op(f"{ONNX_DOMAIN}::{PLUGIN_NAME}", fc, fs, plugin_namespace_s=PLUGIN_NAMESPACE,
                               plugin_version_s=PLUGIN_VERSION, alpha_f=float(alpha), reg_f=float(reg),
                               color_reg_f=float(color_reg), iters_i=int(iters))
                    out.setType(fc.type())
                    return out

            cls.fn = WhitenColor
        return cls.fn


def whiten_color_node(fc, fs, *, alpha: float = 1.0, reg: float = 1e-2, color_reg: float = 1e-4, iters: int = 20):
    """In a torch module being exported with torch.onnx (TorchScript exporter): WCT that exports as the
    plugin node (and runs the kernels / float64 reference in PyTorch). fc [B, C, N], fs [Bs, C, Ns]."""
    return _WhitenColorFn.get().apply(fc, fs, float(alpha), float(reg), float(color_reg), int(iters))


def emit_wct_node(pipe, *, levels=None, opset: int = 17) -> dict[str, bytes]:
    """ONNX graphs for ``styleforge export ... --wct plugin`` (called by export/wct/exporter.py).

    Returns ``{"stylize_pair": onnx bytes}``: content [batch, 3, H, W] and style [1, 3, sh, sw] in
    [0, 255] and alpha [n_levels] → image, the WCTPipeline cascade (coarse to fine) with every level's
    whitening–colouring a ``styleforge::WhitenColor`` node (alpha = 1 inside the node; the per-level alpha
    blend stays in plain ONNX ops, so alpha remains a graph input). The statistics graphs
    (``encode_style``/``stylize``) have no plugin form: export them with ``--wct ns``.
    """
    import io
    import warnings

    import onnx
    import torch

    from ..train.wct import transforms as W

    levels = list(levels or pipe.levels)
    kw = getattr(pipe, "kw", {})
    reg, iters = float(kw.get("reg", W.PIPELINE_REG)), int(kw.get("iters", W.NS_ITERS))
    color_reg = float(getattr(pipe, "color_reg", W.PIPELINE_COLOR_REG))

    class PluginPair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pipe = pipe

        def forward(self, content, style, alpha):
            taps = self.pipe.encoder.taps(style / 255.0, levels)

            def transform(i, level, f):  # the plugin node whitens-colours; the alpha blend stays plain ONNX
                fc = f.flatten(2)
                out = whiten_color_node(fc, taps[level].flatten(2), alpha=1.0, reg=reg, color_reg=color_reg,
                                        iters=iters)
                a = alpha.reshape(-1)[i]
                return a * out + (1.0 - a) * fc

            return self.pipe.cascade(content / 255.0, transform, levels) * 255.0

    m = PluginPair().eval()
    mult = int(getattr(pipe, "size_multiple", 16))
    c0 = torch.rand(1, 3, 2 * mult, 2 * mult) * 255
    s0 = torch.rand(1, 3, 2 * mult, 2 * mult) * 255
    a0 = torch.ones(len(levels))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (c0, s0, a0), buf, dynamo=False, input_names=["content", "style", "alpha"],
                          output_names=["image"], opset_version=opset, custom_opsets={ONNX_DOMAIN: ONNX_DOMAIN_VERSION},
                          dynamic_axes={"content": {0: "batch", 2: "height", 3: "width"},
                                        "style": {2: "style_height", 3: "style_width"}, "image": {0: "batch", 2: "height", 3: "width"}})
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    return {"stylize_pair": model.SerializeToString()}

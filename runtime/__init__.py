"""styleforge.runtime — the lean runtime: numpy + Pillow + onnxruntime (TensorRT optional). Never imports torch.

    from styleforge.runtime import load
    model = load("x.sfbundle", backend="auto")
    out = model(image)            # H×W×3 uint8 in, H×W×3 uint8 out
"""
from .bundle import Bundle, open_bundle
from .errors import BundleError, ImageError, StyleForgeError
from .model import RuntimeModel, load

__all__ = ["load", "open_bundle", "Bundle", "RuntimeModel", "StyleForgeError", "BundleError", "ImageError"]

"""Feature-space optimisation against a fixed VGG: feature inversion (Mahendran & Vedaldi 2015), texture
synthesis and style transfer (Gatys et al. 2015/2016), deep feature interpolation (Upchurch et al. 2017).
No trained model and no bundle: `styleforge optimize …` writes images. docs/optimize.md.

The Python API (``invert``, ``texture``, ``stylize``, ``sweep``, ``dfi``, ``LoopOptions`` …) lives in
:mod:`styleforge.train.optimize.methods`; it is re-exported here lazily so importing the package
(as the CLI does) costs no torch import.
"""
from ..core.family import TrainFamily

FAMILY = TrainFamily(name="optimize", summary="feature-space optimisation (inversion, texture, Gatys, DFI)")


def __getattr__(name):
    from . import methods

    try:
        return getattr(methods, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None

"""The ``int8-nncf`` variant ``tune`` measures: NNCF's default post-training quantisation (``nncf.quantize`` with
no options, ONNX backend) of the graphs ``convert``'s int8 recipe quantises, as a bundle.

It is made from two bundles ``convert`` wrote (its public entry only): the int8 variant gives the manifest — int8
precision, the int8 tolerance profile, the golden cases, the lineage — and the fp32 clean-up variant gives the
graphs NNCF quantises instead of the recipe's. The lineage's passes say so. Stylizer and translator bundles only
(one image input; the calibration images feed it through runtime/io_plan.py); others get a reason.

Why: on the 24-step demo stylizer the recipe's int8 kept 37.9 dB on the golden cases and NNCF's default 49.0 dB
(docs/deploy.md "Peers").
"""
from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import numpy as np

from ...runtime.bundle import open_bundle, update_bundle
from ...runtime.errors import StyleForgeError
from ...runtime.interfaces import interface_spec, interfaces_with



def _calibrated_on_the_image_alone(spec) -> bool:
    """NNCF is calibrated here on the image input alone: interfaces whose graphs take one picture and no style."""
    return spec.main_input == "image" and not spec.takes_style


def _feeds(bundle, role: str, images: list[np.ndarray]) -> list[dict]:
    """Graph feeds for the calibration images: the image input encoded as the runtime does, other inputs held fixed
    or zero (style 0)."""
    from ...runtime.io_plan import fixed_feeds, image_io, pad_batch

    graph = bundle.graph(role)
    io = image_io(graph.inputs[0])
    fixed = fixed_feeds(bundle, graph)
    c = bundle.manifest.size_constraints
    out = []
    for img in images:
        batch, _ = pad_batch(img[None], int(c.multiple_of), int(c.min_side))
        feeds = {graph.inputs[0].name: io.encode(batch)}
        for t in graph.inputs[1:]:
            feeds[t.name] = fixed.get(t.name, np.zeros([1 if not isinstance(d, int) or d <= 0 else d for d in t.shape],
                                                      np.dtype(t.dtype)))
        out.append(feeds)
    return out


@contextlib.contextmanager
def _on_stderr():
    """NNCF's progress bars and its logger (a handler bound to stdout at import, which redirect_stdout misses: its
    "Dataset contains only 2 samples" warning landed in `tune --json`'s output) go to stderr meanwhile."""
    import logging

    handlers = [h for h in logging.getLogger("nncf").handlers
                if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.__stdout__)]
    old = [h.setStream(sys.stderr) for h in handlers]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h, stream in zip(handlers, old):
            h.setStream(stream)


def quantised_roles(int8_bundle) -> list[str]:
    """Roles whose graphs the int8 recipe quantised (its lineage records a QDQ pass for them)."""
    lineage = int8_bundle.manifest.lineage
    passes = lineage.conversion.passes if lineage is not None else {}
    return [role for role, steps in passes.items() if any("QDQ" in s for s in steps)]


def nncf_int8(fp32_variant: Path, int8_variant: Path, out: Path, images: list[np.ndarray]) -> Path:
    """Write the ``int8-nncf`` bundle to `out` (see the module docstring); StyleForgeError when it cannot be made."""
    try:
        import nncf
        import onnx
    except ImportError as e:
        raise StyleForgeError(f"needs nncf and onnx (pip install 'styleforge[openvino]'): {e}") from None
    fp32, int8 = open_bundle(fp32_variant), open_bundle(int8_variant)
    if not _calibrated_on_the_image_alone(interface_spec(fp32.interface)):
        tried = interfaces_with(_calibrated_on_the_image_alone)
        raise StyleForgeError(f"NNCF's int8 is tried on {', '.join(tried)} bundles only, not {fp32.interface}")
    roles = quantised_roles(int8)
    if not roles:
        raise StyleForgeError("the int8 recipe quantised no graph of this bundle")
    graphs = {}
    for role in roles:
        model = onnx.load(str(fp32.file(fp32.graph(role).file)))
        try:
            with _on_stderr():  # never on stdout (tune --json)
                quantised = nncf.quantize(model, nncf.Dataset(_feeds(fp32, role, images)))
        except Exception as e:  # NNCF raises its own and onnx's exception types
            raise StyleForgeError(f"nncf.quantize failed on graph {role!r}: {(str(e).splitlines() or [''])[0]}") from None
        graphs[int8.graph(role).file] = quantised.SerializeToString()
    note = f"nncf.quantize (NNCF {nncf.__version__}, default parameters, {len(images)} calibration images) of the fp32 clean-up"

    def patch(m):
        for role in roles:
            m.lineage.conversion.passes[role] = [note]
        m.lineage.conversion.options["int8_method"] = "nncf"
        m.lineage.conversion.versions["nncf"] = nncf.__version__

    shutil.copytree(int8_variant, out)
    update_bundle(out, add_files=graphs, patch=patch)
    return out

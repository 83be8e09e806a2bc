"""``import-onnx TRANSFORM.onnx --style-encoder PREDICT.onnx --style-input NAME``: a two-graph arbitrary-style model
(Ghiasi et al. 2017 / Magenta: a style predictor maps a style image to a small vector, a transformer takes the
content image and that vector) as one bundle of the ``arbitrary_style`` interface
(runtime/families/arbitrary_style.py).

Graphs: ``predict_style`` (the predictor; its image input renamed ``style``) and ``stylize`` (the transformer;
image ``image`` → ``stylized``, its vector input renamed ``style_vector``). Range, layout, colour order and
normalisation options apply to the images of both. Golden cases run the two original graphs chained: a style
image at ``--style-size``² through the predictor, its vector and photos through the transformer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.errors import StyleForgeError
from .api import (_add_goldens, _annotations, _dims, _elem, _graph_inputs, _layout, _load, _plan,
                  _set_size_constraints, rename_tensor)

VECTOR = "style_vector"


def _predictor(path: Path, layout, vector_size: int):
    """The predictor graph, its image input renamed ``style``; checks it maps one image to `vector_size` numbers."""
    from onnx import TensorProto

    model = _load(path)
    images = [v for v in _graph_inputs(model) if len(_dims(v)) == 4
              and _elem(v) in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.UINT8)]
    others = [v.name for v in _graph_inputs(model) if v not in images]
    if len(images) != 1 or others:
        raise StyleForgeError(f"--style-encoder {path.name}: needs exactly one image input and no other inputs "
                              f"(it has: {', '.join(v.name for v in _graph_inputs(model))})")
    outs = [v for v in model.graph.output if int(np.prod([d for d in _dims(v) if isinstance(d, int) and d > 0])) == vector_size]
    if not outs:
        raise StyleForgeError(f"--style-encoder {path.name}: no output of {vector_size} numbers, the size of the "
                              "transformer's --style-input")
    for v in [v for v in model.graph.output if v.name != outs[0].name]:
        model.graph.output.remove(v)
    lay = _layout(_dims(images[0]), layout, images[0].name)
    rename_tensor(model, images[0].name, "style")
    return model, lay, outs[0].name


def _vector_size(model, name: str) -> int:
    v = next((v for v in _graph_inputs(model) if v.name == name), None)
    if v is None:
        raise StyleForgeError(f"--style-input {name!r}: the transformer has no such input (it has: "
                              f"{', '.join(x.name for x in _graph_inputs(model))})")
    dims = _dims(v)
    n = [d for d in dims if not (isinstance(d, int) and d == 1)]
    if len(n) != 1 or not isinstance(n[0], int) or n[0] < 1:
        raise StyleForgeError(f"--style-input {name}: needs one fixed axis of the vector size (e.g. [1, 100]), got {dims}")
    return n[0]


def import_arbitrary(transform, out, *, style_encoder, style_input: str, style_size: int = 256,
                     value_range: str = "0,1", layout=None, multiple_of: int = 1, input_name=None, output_name=None,
                     color_order: str = "RGB", normalize=None, mean=None, std=None, name=None,
                     validate: bool = True) -> tuple[Path, dict | None]:
    """Write an ``arbitrary_style`` bundle from a transformer graph and its style predictor (module docstring)."""
    from ...export.stylizer.exporter import golden_images
    from ...runtime.families.arbitrary_style import ArbitraryStyleConfig
    from ...runtime.io_plan import image_io
    from ...runtime.bundle import sha256_file
    from ..convert.lineage import import_lineage
    from ..core.bundle_writer import BundleWriter
    from ..core.publish import check_bundle_output, publish_bundle

    if style_size < 16:
        raise StyleForgeError("--style-size must be at least 16")
    src, enc = Path(transform), Path(style_encoder)
    for f in (src, enc):
        if not f.is_file():
            raise StyleForgeError(f"{f}: no such file")
    check_bundle_output(out, [src, enc])  # before any work: not an input, no folder of the user's
    plan = _plan(src, "stylizer", value_range, layout, input_name, output_name, {}, None, color_order, normalize,
                 mean, std, None, fed=(style_input,))
    size = _vector_size(plan.model, style_input)
    rename_tensor(plan.model, style_input, VECTOR)
    pmodel, play, pout = _predictor(enc, layout, size)
    config = ArbitraryStyleConfig(style_size=style_size, vector_size=size, style_input=VECTOR)
    w = BundleWriter(name=name or Path(out).name.removesuffix(".sfbundle") or src.stem, method="imported",
                     family="imported", interface="arbitrary_style", config=config, precision=plan.precision,
                     opset=next((o.version for o in plan.model.opset_import if o.domain in ("", "ai.onnx")), 17),
                     exporter=None)
    img = _annotations(plan)[plan.canon[0]]
    pspec = w.add_graph("predict_style", pmodel.SerializeToString(), file="predict_style.onnx", annotations={
        "style": {**img, "layout": play, "description": f"style image of {enc.name}, resized to {style_size}²"},
        pout: {"description": f"{pout} of {enc.name}: the style vector ({size} numbers)"}})
    ann = {**_annotations(plan), VECTOR: {"description": f"{style_input} of {src.name}: the style vector"}}
    data = plan.model.SerializeToString()
    spec = w.add_graph("stylize", data, annotations=ann, file="stylize.onnx")
    # the two original graphs chained: a style image through the predictor, its vector into the transformer
    style = golden_images([(style_size, style_size)])[0].transpose(0, 2, 3, 1).astype(np.uint8)
    feeds = {"style": image_io(pspec.input("style")).encode(style)}
    v = _run_named(pmodel, feeds, pout)
    w.add_golden("style", "predict_style", feeds, {pout: v}, reference="imported",
                 description=f"a {style_size}² style image through the original {enc.name} on ONNX Runtime CPU")
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.input(VECTOR).shape]
    _add_goldens(w, plan, spec, data, multiple_of, extra={VECTOR: v.reshape(shape).astype(np.float32)})
    _set_size_constraints(w, plan, config, multiple_of)
    options = {"interface": "arbitrary_style", "style_encoder": enc.name, "style_input": style_input,
               "style_size": style_size, "range": value_range, "layout": layout or "auto", "color_order": plan.color_order,
               "mean": plan.mean, "std": plan.std, "style_encoder_sha256": sha256_file(enc)}
    w.set(lineage=import_lineage(src, options, {"stylize": [f"renamed {plan.main_in} → image, {plan.main_out} → stylized, "
                                                            f"{style_input} → {VECTOR}"],
                                                "predict_style": ["its image input renamed style"]}, plan.precision))
    return publish_bundle(w.write, out, inputs=[src, enc], validate=validate)  # staged, then validated


def _run_named(model, feeds: dict, output: str) -> np.ndarray:
    from ..convert.graph import cpu_session

    try:
        return cpu_session(model).run([output], feeds)[0]
    except Exception as e:
        raise StyleForgeError(f"the style encoder failed on ONNX Runtime ({(str(e).splitlines() or [''])[0]})") from None

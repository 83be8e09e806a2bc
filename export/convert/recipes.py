"""Per-interface int8 recipes: which passes run before quantisation and what stays in floating point, from the
measurements in docs/deploy.md ("int8: what stays float and why").

* stylizer (StyleForge's TransformerNet and imported feed-forward stylizers): the thin 9×9 output conv is
  rewritten with space-to-depth (s2d.py; fp32 149 → 51 ms at 512²), every Conv → InstanceNorm pair is
  equalised (equalize.py), instance norms stay float, and so do the first three convs (the down path: the most
  sensitive layers, and on ORT CPU no faster in int8 — conv1 9×9 3→16 measured 63 ms int8 vs 34 ms fp32) and the
  output conv.
* wct: only the conv stacks of the ``stylize`` graphs are candidates (Conv, Pad, Relu, MaxPool, Resize); the
  whitening–colouring maths (reductions, MatMul, Newton–Schulz) is never quantised; the statistics graph
  ``encode_style`` stays fp32 (it runs once per style and is cached). Which levels' blocks are quantised comes
  from the per-block sensitivity sweep (:data:`WCT_INT8_BLOCKS`).
* generator / translator / anything else: equalisation where a Conv feeds an InstanceNorm, norms float, the first
  conv and the output conv float, everything else quantised.
"""
from __future__ import annotations

import re

import onnx

from ...runtime.interfaces import interface_spec
from .equalize import equalize_conv_in
from .int8 import Int8Recipe, conv_names, output_convs
from .s2d import rewrite_thin_convs

#: the stylizer's down path kept float (conv1, conv2, conv3)
STYLIZER_FLOAT_DOWN = 3
#: WCT stylize graphs: which blocks are quantised, by the module path torch.onnx puts in node names. Measured
#: per block on the five-level bundle (one block int8, the rest fp32, PSNR vs fp32 over 4 photos at 256²):
#: decoder of the coarsest level 71 dB; every other block 21–35 dB (encoders 21–33: they feed the whitening,
#: whose error the decoders amplify; decoders 4, 3, 2: 35, 23, 28). Only the coarsest level's decoder passes
#: 35 dB, so only it is quantised (docs/deploy.md).
WCT_DECODER = re.compile(r"/decoders\.(\d+)/")
WCT_OPS = ("Conv", "Pad", "Relu", "MaxPool", "Resize")


def s2d_block(multiple: int) -> int:
    """The space-to-depth block the bundle's size multiple allows (0: none)."""
    return 4 if multiple % 4 == 0 else (2 if multiple % 2 == 0 else 0)


def prepare_int8(model: onnx.ModelProto, interface: str, role: str, feeds: list[dict], multiple: int,
                 ) -> tuple[onnx.ModelProto, Int8Recipe, list[str]]:
    """(model after the pre-quantisation passes, the recipe to quantise it with, passes run)."""
    passes: list[str] = []
    recipe = Int8Recipe()
    kind = interface_spec(interface).int8_recipe
    if kind == "wct-decoder":
        recipe.op_types = WCT_OPS
        levels = {int(m.group(1)) for n in model.graph.node if (m := WCT_DECODER.search(n.name))}
        keep = f"/decoders.{max(levels)}/" if levels else None
        recipe.exclude = tuple(n.name for n in model.graph.node if keep is None or keep not in n.name)
        passes.append(f"int8 blocks: decoder of level {max(levels)}" if levels else "int8 blocks: none found")
        return model, recipe, passes
    if kind == "image-s2d":
        r = s2d_block(multiple)
        if r:
            model, done = rewrite_thin_convs(model, r=r)
            if done:
                passes.append(f"space_to_depth(r={r})×{len(done)}")
    model, eq = equalize_conv_in(model, feeds)
    if eq:
        passes.append(f"equalize_conv_instancenorm×{len(eq)}")
    keep_down = STYLIZER_FLOAT_DOWN if kind == "image-s2d" else 1
    recipe.op_types = recipe.op_types + ("ConvTranspose",)
    recipe.exclude = tuple(conv_names(model)[:keep_down]) + tuple(output_convs(model))
    return model, recipe, passes

"""Graph clean-up, the first pass of every ``convert`` variant (the fp32 variant is this alone).

1. ``onnxslim.slim``: constant folding, dead nodes, common sub-expressions, shape-op folding, its Conv+Add /
   Conv+Mul / Pad+Conv fusions.
2. :func:`fold_single_style_affine`: a one-style conditional instance norm exports as
   ``InstanceNormalization(x, 1, 0) → Mul(Unsqueeze(Gather(γ[1, C], zeros(N)))) → Add(… β …)``; the Gather
   depends on the batch size, so no constant folder removes it. With a one-row table every valid index is 0:
   γ and β become the InstanceNormalization's own scale and bias (one op instead of seven, one pass over the
   activation instead of three).
3. :func:`fold_input_scale`: ``x / 255`` (or ``x · c``) feeding [reflect/edge Pad →] Conv is folded into that
   Conv's weights (a pad commutes with a scalar scale). The graph then reads integer pixels directly, which
   also lets int8 quantise its input exactly.
4. :func:`~.subpixel.fold_upsample_conv`: nearest ×2 upsample → one-pixel pad → 3×3 conv becomes a one-pixel pad
   → 4×4 stride-2 transposed conv on the low-resolution tensor (subpixel.py: the up paths of the stylizers and the
   WCT decoders; 2.25× fewer multiply-adds there and no upsampled tensor).
5. onnxslim again (dead nodes of the folds), ``onnx.checker``, and a check that the inputs and outputs (names,
   dtypes, symbolic axes) are exactly those of the original graph.

All of it is exact in real arithmetic; fp32 sums are reordered (measured on the demo stylizer: ≤ 2e-4 on
[0, 255], far inside the cpu-fp32 profile). Multi-style graphs keep their Gather-based affine (γ depends on
``style_index``).
"""
from __future__ import annotations

import copy

import numpy as np
import onnx

from ...runtime.errors import StyleForgeError
from .graph import Graph, check_same_io, prune_unused
from .subpixel import fold_upsample_conv


def slim(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxslim with its defaults; refuses a result that changed the graph's I/O."""
    try:
        import onnxslim
    except ImportError:
        raise StyleForgeError("convert needs onnxslim (pip install 'styleforge[train]')") from None
    try:
        out = onnxslim.slim(copy.deepcopy(model))
    except Exception as e:  # onnxslim raises its own types
        raise StyleForgeError(f"onnxslim failed on this graph ({type(e).__name__}: {(str(e).splitlines() or [''])[0]})") from None
    # onnxslim may pin a symbolic output axis it could resolve (e.g. [1, 512, 1] for a reduction that the
    # exporter left as ReduceMean…_dim_0): keep the declared contract, names and axes as they were
    declared = {v.name: v for v in list(model.graph.input) + list(model.graph.output)}
    for v in list(out.graph.input) + list(out.graph.output):
        if v.name in declared:
            v.type.CopyFrom(declared[v.name].type)
    check_same_io(model, out, "onnxslim")
    return out


def _per_channel(g: Graph, name: str):
    """Constant per-channel vector [C] behind `name`: a [1, C, 1, 1] / [C, 1, 1] constant, or
    Unsqueeze(Gather(table[1, C], indices)) (the single-style CIN pattern); else None."""
    v = g.const(name)
    if v is not None:
        v = np.asarray(v, np.float32)
        if v.ndim >= 3 and all(d == 1 for d in v.shape[-2:]) and (v.ndim == 3 or v.shape[0] == 1):
            return v.reshape(-1)
        return None
    u = g.producer.get(name)
    if u is None or u.op_type != "Unsqueeze":
        return None
    ga = g.producer.get(u.input[0])
    if ga is None or ga.op_type != "Gather":
        return None
    axis = next((a.i for a in ga.attribute if a.name == "axis"), 0)
    table = g.const(ga.input[0])
    if table is None or axis != 0 or table.ndim != 2 or table.shape[0] != 1:
        return None
    return np.asarray(table[0], np.float32)


def fold_single_style_affine(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """IN(x, s, b) → Mul(γ) → Add(β) with batch-independent γ, β  ⇒  IN(x, s·γ, b·γ + β). Returns (model, count)."""
    g = Graph(model)
    count, dead = 0, []
    for n in list(g.g.node):
        if n.op_type != "InstanceNormalization":
            continue
        mul = g.single_consumer(n.output[0])
        if mul is None or mul.op_type != "Mul":
            continue
        gamma = _per_channel(g, mul.input[1] if mul.input[0] == n.output[0] else mul.input[0])
        add = g.single_consumer(mul.output[0])
        if gamma is None or add is None or add.op_type != "Add":
            continue
        beta = _per_channel(g, add.input[1] if add.input[0] == mul.output[0] else add.input[0])
        s, b = g.const(n.input[1]), g.const(n.input[2])
        if beta is None or s is None or b is None or s.shape != gamma.shape or b.shape != beta.shape:
            continue
        n.input[1] = g.add_init(n.name + "_scale_folded", (s * gamma).astype(np.float32))
        n.input[2] = g.add_init(n.name + "_bias_folded", (b * gamma + beta).astype(np.float32))
        n.output[0] = add.output[0]
        dead += [mul, add]
        count += 1
        g.reindex()
    if dead:
        g.remove_nodes(dead)
    return prune_unused(model), count


def fold_input_scale(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Div(x, c) / Mul(x, c) with a scalar constant c feeding [Pad (reflect | edge | constant 0) →] Conv as its only
    consumer: fold 1/c (or c) into the Conv's weights and drop the Div/Mul. Returns (model, count)."""
    g = Graph(model)
    count = 0
    for n in list(g.g.node):
        if n.op_type not in ("Div", "Mul") or len(n.input) != 2:
            continue
        c = g.const(n.input[1])
        if c is None or np.size(c) != 1 or g.const(n.input[0]) is not None:
            continue
        c = float(np.asarray(c).reshape(()))
        if c == 0.0:
            continue
        factor = 1.0 / c if n.op_type == "Div" else c
        nxt, chain = g.single_consumer(n.output[0]), []
        if nxt is not None and nxt.op_type == "Pad":
            mode = next((a.s.decode() for a in nxt.attribute if a.name == "mode"), "constant")
            cval = g.const(nxt.input[2]) if len(nxt.input) > 2 and nxt.input[2] else None
            if mode == "constant" and cval is not None and float(np.asarray(cval).reshape(())) != 0.0:
                continue
            chain.append(nxt)
            nxt = g.single_consumer(nxt.output[0])
        if nxt is None or nxt.op_type != "Conv":
            continue
        w = g.const(nxt.input[1])
        if w is None or not np.issubdtype(w.dtype, np.floating):
            continue
        nxt.input[1] = g.add_init(nxt.input[1] + "_inscaled", (w * factor).astype(w.dtype))
        first = chain[0] if chain else nxt
        for k, i in enumerate(first.input):
            if i == n.output[0]:
                first.input[k] = n.input[0]
        g.remove_nodes([n])
        count += 1
    return prune_unused(model), count


def folds(model: onnx.ModelProto, *, upsample: bool = True) -> tuple[onnx.ModelProto, list[str]]:
    """The StyleForge folds (2, 3 and 4 of the module docstring), slimmed again when one fired and checked (5).
    `upsample`: whether fold 4 runs (not on graphs int8 quantises: see subpixel.py). Returns (new checked model, the
    folds that fired)."""
    m, k1 = fold_single_style_affine(copy.deepcopy(model))
    m, k2 = fold_input_scale(m)
    m, k3 = fold_upsample_conv(m) if upsample else (m, 0)
    notes = ([f"fold_single_style_affine×{k1}"] if k1 else []) + ([f"fold_input_scale×{k2}"] if k2 else []) \
        + ([f"fold_upsample_conv×{k3}"] if k3 else [])
    if k1 or k2 or k3:
        m = slim(m)
    try:
        onnx.checker.check_model(m)
    except onnx.checker.ValidationError as e:
        raise StyleForgeError(f"clean-up produced an invalid graph ({(str(e).splitlines() or [''])[0]})") from None
    check_same_io(model, m, "clean-up")
    return m, notes


def cleanup(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """The clean-up every variant starts from (module docstring). Returns (new checked model, passes run)."""
    m, notes = folds(slim(model))
    check_same_io(model, m, "clean-up")
    return m, ["onnxslim"] + notes

"""Shape buckets (TensorRT optimisation profiles): min/opt/max shape per dynamic input, respecting the
bundle's size rule (``size_constraints.multiple_of`` and ``min_side``). Pure Python, shared by
``styleforge engine build`` (profiles it builds and ``--check-only`` prints), the ``tensorrt`` runner (which
bucket serves a call) and ``ort-trt`` (the profile shapes it passes to ONNX Runtime's TensorRT provider).

Default bucket: batch 1/1/4; each spatial dimension lo/opt/hi with lo = the smallest multiple of m that is
at least max(min_side, m), opt = the multiple of m at or below 512 (at least lo), hi = at or below 1024 (at
least opt); other symbolic dimensions 1/1/1; static dimensions as they are.
"""
from __future__ import annotations

import re

from ..errors import StyleForgeError

Dims = tuple[int, ...]
#: input name -> (min, opt, max)
Bucket = dict[str, tuple[Dims, Dims, Dims]]

BATCH_RANGE = (1, 1, 4)
SPATIAL_OPT, SPATIAL_MAX = 512, 1024
_SPATIAL = re.compile(r"height|width|^h$|^w$")


def is_symbolic(dim) -> bool:
    """A dimension the graph leaves open (a name, or an ONNX dim with no value: 0 or negative)."""
    return not isinstance(dim, int) or dim <= 0


def is_batch_dim(index: int, dim) -> bool:
    return is_symbolic(dim) and (index == 0 or "batch" in str(dim))


def is_spatial_dim(dim) -> bool:
    return not isinstance(dim, int) and bool(_SPATIAL.search(str(dim)))


def spatial_range(size_constraints) -> tuple[int, int, int]:
    """(lo, opt, hi) of a spatial dimension under the bundle's size rule."""
    m = max(1, int(size_constraints.multiple_of))
    lo = -(-max(int(size_constraints.min_side), m) // m) * m
    opt = max(lo, SPATIAL_OPT // m * m)
    return lo, opt, max(opt, SPATIAL_MAX // m * m)


def default_bucket(inputs, size_constraints) -> Bucket:
    """The default bucket for a graph's input specs (TensorSpec list)."""
    lo, opt, hi = spatial_range(size_constraints)
    bucket = {}
    for spec in inputs:
        mins, opts, maxs = [], [], []
        for i, d in enumerate(spec.shape):
            if isinstance(d, int) and d > 0:
                r = (d, d, d)
            elif is_batch_dim(i, d):
                r = BATCH_RANGE
            elif is_spatial_dim(d):
                r = (lo, opt, hi)
            else:
                r = (1, 1, 1)
            mins.append(r[0]), opts.append(r[1]), maxs.append(r[2])
        bucket[spec.name] = (tuple(mins), tuple(opts), tuple(maxs))
    return bucket


def check_bucket(bucket: Bucket, inputs, size_constraints, what: str = "--shapes") -> None:
    """Refuse shapes the graph cannot take: unknown input, wrong rank, a static dimension changed, a spatial
    dimension that is not a multiple of ``multiple_of`` or (for min) below ``min_side``."""
    specs = {s.name: s for s in inputs}
    m = max(1, int(size_constraints.multiple_of))
    min_side = int(size_constraints.min_side)
    for name, (mn, op, mx) in bucket.items():
        spec = specs.get(name)
        if spec is None:
            raise StyleForgeError(f"{what}: the graph has no input {name!r} (inputs: {', '.join(specs)})")
        if len(mn) != len(spec.shape):
            raise StyleForgeError(f"{what}: input {name} has rank {len(spec.shape)} ({spec.shape}), got {list(mn)}")
        for i, d in enumerate(spec.shape):
            if isinstance(d, int) and d > 0 and not mn[i] == op[i] == mx[i] == d:
                raise StyleForgeError(f"{what}: input {name} dimension {i} is fixed at {d}")
            if is_spatial_dim(d):
                bad = [v for v in (mn[i], op[i], mx[i]) if v % m]
                if bad:
                    raise StyleForgeError(f"{what}: input {name} dimension {i} ({d}) must be a multiple of {m} "
                                          f"(the bundle's size rule), got {bad[0]}")
                if mn[i] < min_side:
                    raise StyleForgeError(f"{what}: input {name} dimension {i} ({d}) must be at least {min_side}, "
                                          f"got min {mn[i]}")


def complete_bucket(user: Bucket | None, inputs, size_constraints, what: str = "--shapes") -> Bucket:
    """A bucket for these inputs: the user's shapes (checked) where given, the default elsewhere."""
    user = dict(user or {})
    check_bucket(user, inputs, size_constraints, what)
    bucket = default_bucket(inputs, size_constraints)
    bucket.update({k: v for k, v in user.items() if k in bucket})
    return bucket


def volume(dims) -> int:
    v = 1
    for d in dims:
        v *= int(d)
    return v


def covers(bucket: Bucket, shapes: dict[str, tuple], batched: set[str] = frozenset()) -> bool:
    """Whether `bucket` takes these input shapes; for `batched` inputs the batch (dim 0) only has to reach
    the bucket's min (larger batches are split into chunks of the bucket's max)."""
    for name, shape in shapes.items():
        if name not in bucket:
            continue
        mn, _, mx = bucket[name]
        if len(shape) != len(mn):
            return False
        for i, (lo, hi, v) in enumerate(zip(mn, mx, shape)):
            if i == 0 and name in batched:
                if v < lo:
                    return False
            elif not lo <= v <= hi:
                return False
    return True


def choose_bucket(buckets: list[Bucket], shapes: dict[str, tuple], batched: set[str] = frozenset()) -> int | None:
    """Index of the bucket that takes `shapes` with the smallest max volume (the tightest fit), or None."""
    fits = [i for i, b in enumerate(buckets) if covers(b, shapes, batched)]
    if not fits:
        return None
    return min(fits, key=lambda i: sum(volume(buckets[i][n][2]) for n in shapes if n in buckets[i]))


def format_bucket(bucket: Bucket) -> str:
    x = lambda dims: "x".join(map(str, dims))  # noqa: E731
    return ", ".join(f"{n}:{x(a)}:{x(b)}:{x(c)}" for n, (a, b, c) in bucket.items())

"""The bundle manifest, typed: the one contract between torch-land (export) and the runtime.

``manifest.json`` is parsed into these dataclasses by :func:`parse_manifest` and written from them by
:func:`manifest_to_json`; both check it (:meth:`Manifest.check`). Unknown fields, missing fields,
wrong types and a newer ``schema_version`` are refused with one line naming the field. The model's
``config`` is typed per runtime interface: each interface's spec names its config dataclass
(:class:`~styleforge.runtime.interfaces.InterfaceSpec` ``.config``, found by :func:`find_interface`). Torch-free.

Vocabulary (``model``): *family* is the training package (gan, image2image), *method* the trainer (dcgan, pix2pix),
*interface* what the runtime offers (stylizer, translator, generator, wct).

Schema history: 1 (untyped; family fields scattered at the top level) → 2 (this module) → 3 (the manifest
carries ``manifest_sha256``, the sha256 of its own canonical JSON: :func:`manifest_digest`; a bundle's
loader refuses a changed manifest as it refuses a changed graph). A version-1 manifest is upgraded in
memory when read (:func:`upgrade_v1`), so bundles written by older StyleForge versions still load; it is
never rewritten on disk by reading. Version 1 and 2 manifests have no digest to check.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from .errors import BundleError
from .interfaces import GraphConfig, find_interface, interface_specs  # noqa: F401  (GraphConfig: re-exported)

SCHEMA_VERSION = 3
#: the first schema whose manifests must carry ``manifest_sha256``
DIGEST_SINCE = 3
MANIFEST = "manifest.json"
DIGEST_FIELD = "manifest_sha256"


# --- the pieces -------------------------------------------------------------------------------------

@dataclass
class Tolerance:
    """Limits on one output's error against its reference (None: not checked). Images are on [0, 255]."""

    max_abs: float | None = None
    mean_abs: float | None = None
    p99_abs: float | None = None
    min_cosine: float | None = None
    min_psnr: float | None = None

    def merged(self, other: "Tolerance | None") -> "Tolerance":
        """This tolerance with `other`'s set limits taking precedence."""
        if other is None:
            return self
        return Tolerance(**{k: (v if v is not None else getattr(self, k)) for k, v in dataclasses.asdict(other).items()})


#: The tolerance profiles validation chooses between (see :func:`profile_name`). ``openvino-f32``: fp32 graphs on
#: OpenVINO's CPU kernels (other convolution algorithms than ONNX Runtime's); ``bf16``: fp32 graphs computed in bf16
#: (OpenVINO's ``INFERENCE_PRECISION_HINT=bf16`` on CPUs with native bf16).
PROFILES = ("cpu-fp32", "gpu-tf32", "fp16", "int8", "openvino-f32", "bf16")
#: A profile a bundle written before it existed lacks → the one validation uses instead (else ``cpu-fp32``).
PROFILE_FALLBACK = {"openvino-f32": "gpu-tf32"}


@dataclass
class ToleranceProfile:
    """Limits for one way of running a bundle (a backend kind × precision), with the measurement they rest on."""

    default: Tolerance
    per_output: dict[str, Tolerance] = field(default_factory=dict)
    basis: str = ""


@dataclass
class TolerancePolicy:
    """The limits validation must meet. ``default``/``per_output``/``basis`` are the ``cpu-fp32`` profile (fp32
    graph on ONNX Runtime CPU: the tightest); ``profiles`` holds the others by name (``gpu-tf32``: fp32 graphs
    on GPU backends, whose convolutions use TF32; ``fp16``, ``int8``: precision variants), each measured."""

    default: Tolerance
    per_output: dict[str, Tolerance] = field(default_factory=dict)
    basis: str = ""
    profiles: dict[str, ToleranceProfile] = field(default_factory=dict)

    def profile(self, name: str = "cpu-fp32") -> ToleranceProfile:
        """The named profile; ``cpu-fp32`` (or a name the bundle lacks, after :data:`PROFILE_FALLBACK`) is the default one."""
        if name not in self.profiles and PROFILE_FALLBACK.get(name) in self.profiles:
            name = PROFILE_FALLBACK[name]
        if name in self.profiles:
            return self.profiles[name]
        return ToleranceProfile(default=self.default, per_output=self.per_output, basis=self.basis)

    def for_output(self, name: str, case: Tolerance | None = None, profile: str = "cpu-fp32") -> Tolerance:
        prof = self.profile(profile)
        return prof.default.merged(prof.per_output.get(name)).merged(case)


def profile_name(backend: str, precision: str, compute: str | None = None) -> str:
    """The tolerance profile for running a bundle of `precision` on `backend`: the precision's own profile for
    fp16/int8 variants; for fp32 graphs ``bf16`` where the runner computes in bf16 (`compute`, OpenVINO's effective
    precision hint), ``openvino-f32`` on OpenVINO, ``gpu-tf32`` on a GPU backend, else ``cpu-fp32``."""
    if precision in ("fp16", "int8"):
        return precision
    if compute == "bf16":
        return "bf16"
    if backend == "openvino":
        return "openvino-f32"
    return "cpu-fp32" if backend in ("ort-cpu", "cpu") or backend.endswith("-cpu") else "gpu-tf32"


@dataclass
class TensorSpec:
    """One graph input or output. ``shape`` holds ints (fixed) and names (symbolic: batch, height, …)."""

    name: str
    dtype: str
    shape: list[int | str]
    layout: str | None = None            # NCHW, NHWC, …
    range: list[float] | None = None     # [lo, hi] of the values
    color_order: str | None = None       # RGB | BGR
    #: per-channel normalisation after scaling to ``range`` (``import-onnx --normalize``): value = (v − mean) / std
    mean: list[float] | None = None
    std: list[float] | None = None
    description: str = ""
    #: an input held fixed (``import-onnx --const``): the bundle file (.npy) the runtime feeds it from
    value_file: str | None = None
    #: what an extra input is for the runtime: "style_vector" (one-hot / blend weights of the styles)
    purpose: str | None = None


@dataclass
class GraphSpec:
    role: str
    file: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    opset: int

    def input(self, name: str) -> TensorSpec | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((t for t in self.outputs if t.name == name), None)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]


@dataclass
class GoldenCase:
    """Inputs and the reference outputs a backend must reproduce (arrays in ``file``, an .npz)."""

    name: str
    file: str
    graph: str
    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, list[int]] = field(default_factory=dict)
    description: str = ""
    reference: str = "pytorch"           # what made the outputs: pytorch, pytorch-exact, imported, …
    tolerance: Tolerance | None = None   # overrides the policy for this case


@dataclass
class SizeConstraints:
    """What H and W a graph accepts: multiples of ``multiple_of``, at least ``min_side``, or ``fixed_size``."""

    multiple_of: int = 1
    min_side: int = 1
    fixed_size: list[int] | None = None
    padding: str = "reflect"             # how the runtime reaches the multiple (then crops back)
    #: output H, W = input H, W × scale (super-resolution; ``import-onnx --scale``)
    scale: int = 1
    note: str = ""


#: TensorRT hardware-compatibility levels an engine can be built with (``styleforge engine build``).
HARDWARE_COMPATIBILITY = ("none", "ampere_plus", "same_compute_capability")


@dataclass
class EngineRecord:
    """A TensorRT engine built for one graph on one GPU and TensorRT version.

    ``tensorrt`` is the exact version that built it (engines load only in that version unless
    ``version_compatible``); ``profiles`` holds one ``{input: [min, opt, max]}`` per shape bucket, each
    built ``contexts`` times (engine profile index = bucket · contexts + copy) so that that many execution
    contexts can run at once; ``plugins`` lists the plugin ids the engine needs registered before loading."""

    role: str
    file: str
    tensorrt: str
    compute_capability: str
    precision: str
    profiles: list[dict[str, list[list[int]]]] = field(default_factory=list)
    gpu: str | None = None
    hardware_compatibility: str = "none"
    version_compatible: bool = False
    builder_optimization_level: int | None = None
    contexts: int = 1
    plugins: list[str] = field(default_factory=list)
    timing_cache: str | None = None      # sha256 of the timing cache the build started from ("" = empty)


@dataclass
class LineageParent:
    """The bundle a converted bundle was made from: its model name and the sha256 of its ``manifest.json``
    (which pins every file of it through their hashes)."""

    name: str
    manifest_sha256: str
    precision: str = "fp32"
    path: str = ""                       # where it was when converted (for the record; may have moved)


@dataclass
class SourceModel:
    """A model StyleForge did not make (``styleforge import-onnx``): the file it came from and its sha256."""

    file: str
    sha256: str


@dataclass
class CalibrationImage:
    """One image int8 calibration read: how it was named (path or ``sample:NAME``) and the sha256 of its file
    (of its decoded RGB pixels for ``sample:`` images, which have no file)."""

    source: str
    sha256: str


@dataclass
class Conversion:
    """How a bundle was derived: the tool, the versions of what it used, its options, the graph passes it ran
    (per graph role) and the calibration images (int8)."""

    tool: str                                            # "styleforge convert", "styleforge import-onnx"
    versions: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    passes: dict[str, list[str]] = field(default_factory=dict)
    calibration: list[CalibrationImage] = field(default_factory=list)


@dataclass
class Lineage:
    """Where a converted or imported bundle came from (``None`` for a bundle exported from a checkpoint):
    its precision, its parent bundle (``convert``) or source model (``import-onnx``), and the conversion."""

    precision: str
    conversion: Conversion
    parent: LineageParent | None = None
    source_model: SourceModel | None = None
    io: str = "float-nchw"                               # float-nchw | uint8-nhwc (graph image I/O)


@dataclass
class TunedHost:
    """The machine a tuning was measured on: CPU model and the ISA flags that decide kernel choice (AVX2,
    AVX-512, VNNI, bf16, AMX …), core count, and the GPU and driver where a GPU runner was measured."""

    cpu: str
    isa: list[str] = field(default_factory=list)
    cores: int = 0
    gpu: str | None = None
    driver: str | None = None


@dataclass
class TunedCandidate:
    """One measured row of a tuning: a runner with its options on a bundle precision, its median latency per size
    (``"HxW"`` → ms), its worst PSNR against the fp32 references (golden cases, held-out pictures, the timed inputs),
    where that worst case was (``worst``: "bench picture + mosaic style at 512x512"; None in records written before
    it existed, and where no PSNR was measured), and whether it met the floor."""

    runner: str
    precision: str
    options: dict[str, Any] = field(default_factory=dict)
    median_ms: dict[str, float] = field(default_factory=dict)
    psnr: float | None = None
    meets_floor: bool = False
    note: str = ""
    worst: str | None = None


@dataclass
class TuningRecord:
    """What ``styleforge tune`` chose for this bundle and on which host (``auto`` honours it on a matching host
    only: runtime/tuning.py): the winning runner and its options, the PSNR floor, sizes and every measured row."""

    tool: str
    time: str
    host: TunedHost
    runner: str
    options: dict[str, Any]
    variant: str                 # the winning precision variant (fp32, int8, int8-percentile, fp16 …)
    min_psnr: float
    sizes: list[list[int]]
    table: list[TunedCandidate] = field(default_factory=list)


@dataclass
class TilingSpec:
    """Graphs that let the runtime run `role` in tiles with shared instance-norm statistics (export/tiling/):
    ``stats_role`` outputs every norm layer's mean/var, ``tiled_role`` takes them as inputs, ``probe_role`` also
    outputs each norm layer's input. ``margin``: context (px) around each tile, at least the receptive radius;
    tile origins are multiples of ``align`` (the graph's total stride)."""

    role: str
    stats_role: str
    tiled_role: str
    probe_role: str
    margin: int
    align: int
    norm_layers: int
    receptive_radius: int
    weights: str | None = None           # the external weights file the three graphs share


@dataclass
class ValidationRecord:
    report: str
    passed: bool
    time: str


@dataclass
class ModelInfo:
    """Who the model is: its bundle name, its *method* (the trainer), its *family* (the training package) and
    the runtime *interface* that runs it."""

    name: str
    method: str        # the trainer: dcgan, pix2pix, stylizer, wct, … (or "imported")
    family: str        # the training package: stylizer, wct, gan, image2image, …
    interface: str     # what the runtime offers: stylizer, wct, generator, translator, graph
    config: Any = None  # the interface's config dataclass (its spec's ``config``)
    step: int | None = None  # training step of the checkpoint it came from


@dataclass
class Manifest:
    schema_version: int
    model: ModelInfo
    graphs: list[GraphSpec]
    files: dict[str, str]
    tolerances: TolerancePolicy
    precision: str
    opset: int
    producer: dict[str, str]
    size_constraints: SizeConstraints = field(default_factory=SizeConstraints)
    golden: list[GoldenCase] = field(default_factory=list)
    engines: list[EngineRecord] = field(default_factory=list)
    validation: dict[str, ValidationRecord] = field(default_factory=dict)
    loss_network: str | None = None
    exporter: str | None = None            # torch.onnx exporter that made the graphs (torchscript, dynamo)
    source_checkpoint: str | None = None
    training: dict[str, Any] = field(default_factory=dict)   # the training options, for the record
    lineage: Lineage | None = None  # converted/imported bundles: parent or source model, precision, conversion
    tiling: list[TilingSpec] = field(default_factory=list)  # tiling graphs per role (runtime/tiling.py)
    tuning: TuningRecord | None = None     # `styleforge tune`: the runner measured fastest on a host (runtime/tuning.py)
    manifest_sha256: str | None = None     # sha256 of this manifest's canonical JSON without this field

    # --- lookups ---------------------------------------------------------------------------------
    def graph(self, role: str) -> GraphSpec:
        for g in self.graphs:
            if g.role == role:
                return g
        raise BundleError(f"bundle has no graph with role {role!r} (it has: {', '.join(g.role for g in self.graphs)})")

    @property
    def roles(self) -> list[str]:
        return [g.role for g in self.graphs]

    def tiling_for(self, role: str) -> TilingSpec | None:
        return next((t for t in self.tiling if t.role == role), None)

    def referenced_files(self) -> list[tuple[str, str]]:
        """(path, what) of every file a field of the manifest points at (graphs, golden cases, engines, reports,
        tiling weights)."""
        return ([(g.file, "graph") for g in self.graphs] + [(c.file, "golden case") for c in self.golden]
                + [(e.file, "engine") for e in self.engines] + [(v.report, "validation report") for v in self.validation.values()]
                + [(t.weights, "tiling weights") for t in self.tiling if t.weights])

    def replace_references(self, renamed: dict[str, str]) -> None:
        """Point every field that names a file in `renamed` at its new name."""
        for items, attr in ((self.graphs, "file"), (self.golden, "file"), (self.engines, "file"),
                            (list(self.validation.values()), "report")):
            for item in items:
                setattr(item, attr, renamed.get(getattr(item, attr), getattr(item, attr)))

    # --- checks -----------------------------------------------------------------------------------
    def check(self, where: str = MANIFEST) -> "Manifest":
        """Cross-field consistency; raises BundleError naming the problem."""
        if self.schema_version > SCHEMA_VERSION:
            raise BundleError(f"{where}: schema version {self.schema_version} is newer than this runtime understands "
                              f"({SCHEMA_VERSION}); upgrade styleforge")
        if not self.graphs:
            raise BundleError(f"{where}: no graphs")
        roles = [g.role for g in self.graphs]
        if len(set(roles)) != len(roles):
            raise BundleError(f"{where}: graph roles repeat ({', '.join(roles)})")
        for rel in self.files:
            check_relative_path(rel, where)
        for rel, what in self.referenced_files():
            check_relative_path(rel, where)
            if rel not in self.files:  # every file the runtime reads is hash-checked (and link-checked) at load
                raise BundleError(f"{where}: {what} file {rel} has no sha256 in the manifest")
        for c in self.golden:
            if c.graph not in roles:
                raise BundleError(f"{where}: golden case {c.name} refers to graph {c.graph!r}, which the bundle lacks")
        for t in self.tiling:
            missing = [r for r in (t.role, t.stats_role, t.tiled_role, t.probe_role) if r not in roles]
            if missing:
                raise BundleError(f"{where}: tiling of {t.role!r} names graph {missing[0]!r}, which the bundle lacks")
        for e in self.engines:
            if e.role not in roles:
                raise BundleError(f"{where}: engine {e.file} is for graph {e.role!r}, which the bundle lacks")
            if e.hardware_compatibility not in HARDWARE_COMPATIBILITY or e.contexts < 1:
                raise BundleError(f"{where}: engine {e.file}: hardware_compatibility must be one of "
                                  f"{', '.join(HARDWARE_COMPATIBILITY)} and contexts at least 1")
        spec = find_interface(self.model.interface)
        want = spec.config if spec is not None else None
        if want is not None and not isinstance(self.model.config, want):
            raise BundleError(f"{where}: model.config is not a {want.__name__} (interface {self.model.interface})")
        if self.lineage is not None and self.lineage.precision != self.precision:
            raise BundleError(f"{where}: lineage.precision {self.lineage.precision!r} differs from precision "
                              f"{self.precision!r}")
        for g in self.graphs:
            for t in g.inputs:
                if t.value_file is not None:
                    check_relative_path(t.value_file, where)
                    if t.value_file not in self.files:
                        raise BundleError(f"{where}: fixed input {g.role}.{t.name}: {t.value_file} has no sha256 "
                                          "in the manifest")
        if self.size_constraints.multiple_of < 1 or self.size_constraints.min_side < 1 or self.size_constraints.scale < 1:
            raise BundleError(f"{where}: size_constraints.multiple_of, min_side and scale must be at least 1")
        for i, row in enumerate(self.tuning.table if self.tuning is not None else []):
            if row.worst is not None and (row.psnr is None or not row.worst.strip() or "\n" in row.worst):
                raise BundleError(f"{where}: tuning.table[{i}].worst must be one line naming where its PSNR was "
                                  "measured, and only on a row with a PSNR")
        return self


def check_relative_path(rel: str, where: str = MANIFEST) -> None:
    """A manifest path must stay inside the bundle: relative, no '..' or '.', no drive, backslash or NUL tricks.
    (Links that leave the bundle are refused where the files are read: runtime/bundle.py.)"""
    parts = rel.replace("\\", "/").split("/")
    if (not rel or rel.startswith(("/", "\\")) or ":" in parts[0] or "\0" in rel
            or any(p in ("", ".", "..") for p in parts)):
        raise BundleError(f"{where}: file path {rel!r} points outside the bundle; refusing it")


# --- generic strict (de)serialisation ---------------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _parse(tp, value, path: str, where: str):
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse(a, value, path, where)
            except BundleError as e:
                errors.append(str(e))
        raise BundleError(errors[0] if len(errors) == 1 else f"{where}: {path} has an unexpected value {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise BundleError(f"{where}: {path} must be a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_parse(item, v, f"{path}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise BundleError(f"{where}: {path} must be an object, got {type(value).__name__}")
        _, vt = typing.get_args(tp) or (str, Any)
        return {str(k): _parse(vt, v, f"{path}.{k}", where) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BundleError(f"{where}: {path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BundleError(f"{where}: {path} must be an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise BundleError(f"{where}: {path} must be a {_type_name(tp)}, got {value!r}")
        return value
    return value


def from_dict(cls, data, path: str = "", where: str = MANIFEST):
    """Build dataclass `cls` from a JSON object, refusing unknown and missing fields (named by their path)."""
    if not isinstance(data, dict):
        raise BundleError(f"{where}: {path or 'the manifest'} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise BundleError(f"{where}: unknown field {'.'.join(filter(None, [path, unknown[0]]))}"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                          + "; written by a newer or foreign tool?")
    kwargs = {}
    for f in dataclasses.fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
                raise BundleError(f"{where}: missing field {sub}")
            continue
        kwargs[f.name] = _parse(hints[f.name], data[f.name], sub, where)
    return cls(**kwargs)


def to_dict(obj):
    """A dataclass tree as JSON-ready data (dataclasses.asdict keeps nested config dataclasses too)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


# --- the manifest as a whole ----------------------------------------------------------------------

def parse_manifest(data: dict, where: str = MANIFEST) -> Manifest:
    """A typed, checked Manifest from the parsed JSON of ``manifest.json``."""
    if not isinstance(data, dict):
        raise BundleError(f"{where}: the manifest must be a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{where}: missing or bad schema_version")
    if version > SCHEMA_VERSION:
        raise BundleError(f"{where}: schema version {version} is newer than this runtime understands "
                          f"({SCHEMA_VERSION}); upgrade styleforge")
    if version < 2:
        data = upgrade_v1(data, where)
    manifest = from_dict(Manifest, data, "", where)
    interface = manifest.model.interface
    spec = find_interface(interface)
    if spec is None:
        raise BundleError(f"{where}: unknown runtime interface {interface!r} (this runtime has: "
                          f"{', '.join(sorted(interface_specs()))}); upgrade styleforge")
    manifest.model.config = from_dict(spec.config, manifest.model.config or {}, "model.config", where)
    return manifest.check(where)


def manifest_digest(data: dict) -> str:
    """sha256 of a manifest's canonical JSON (sorted keys, no whitespace, without ``manifest_sha256`` itself)."""
    body = {k: v for k, v in data.items() if k != DIGEST_FIELD}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def check_digest(data: dict, where: str = MANIFEST, *, allow_missing: bool = False) -> None:
    """Refuse manifest JSON whose content does not match its ``manifest_sha256``, or that has none: schema 3 requires
    one, and an older manifest without one is read only with `allow_missing` (--allow-legacy-manifest)."""
    want = data.get(DIGEST_FIELD)
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return  # parse_manifest names the missing or bad schema_version
    if want is None:
        if version >= DIGEST_SINCE:
            raise BundleError(f"{where}: the manifest has no {DIGEST_FIELD} (schema {version} requires one); refusing to load")
        if not allow_missing:
            raise BundleError(f"{where}: a schema-{version} manifest without {DIGEST_FIELD}: nothing shows it is the one "
                              "StyleForge wrote; refusing to load (if you trust this bundle: --allow-legacy-manifest, or "
                              "re-export it)")
        return
    if manifest_digest(data) != want:
        raise BundleError(f"{where}: the manifest does not match its {DIGEST_FIELD} (edited or corrupt); refusing to load")


def manifest_to_json(manifest: Manifest) -> str:
    """The manifest as ``manifest.json`` text with its digest, after checking it (what a writer must call)."""
    manifest.check("manifest being written")
    data = to_dict(manifest)
    if data.get("tuning") is None:  # untuned bundles keep the JSON older runtimes read (no unknown field)
        data.pop("tuning", None)
    data[DIGEST_FIELD] = manifest.manifest_sha256 = manifest_digest(data)
    return json.dumps(data, indent=2) + "\n"


# --- schema 1 → 2 -------------------------------------------------------------------------------------

def _tolerance(d) -> dict:
    return {k: d[k] for k in ("max_abs", "mean_abs", "p99_abs", "min_cosine", "min_psnr") if k in d and d[k] is not None}


def upgrade_v1(old: dict, where: str = MANIFEST) -> dict:
    """A schema-1 manifest (before the typed contract) as the current schema, in memory: the one upgrade path
    (schema 1 named the interface ``model.family``; each interface's spec upgrades its own config fields)."""
    try:
        d = json.loads(json.dumps(old))
        d.pop(DIGEST_FIELD, None)  # schema 1 had none; the upgraded manifest is another text
        model = d.pop("model")
        interface = model.get("family", "graph")
        cfg = dict(model.get("config") or {})
        step = d.pop("step", None) if "step" in d else cfg.pop("step", None)
        spec = find_interface(interface)
        if spec is None:
            raise ValueError(f"unknown interface {interface!r}")
        method, cfg = spec.upgrade_v1(cfg, d)
        tol = d.pop("tolerances", {})
        basis = d.pop("tolerance_basis", "") or tol.get("basis", "")
        default = tol.get("default", tol)
        per = {k: _tolerance(v) for k, v in tol.get("per_output", {}).items()}
        d["tolerances"] = {"default": _tolerance(default), "per_output": per, "basis": basis}
        for c in d.get("golden", []):
            if "tolerances" in c:
                c["tolerance"] = _tolerance(c.pop("tolerances"))
                c["reference"] = "pytorch-exact" if c["name"].startswith("ns_vs_exact") else "pytorch"
        sc = d.get("size_constraints") or {}
        d["size_constraints"] = {"multiple_of": int(sc.get("multiple_of", sc.get("multiple", 1)) or 1),
                                 "min_side": int(sc.get("min_side", 1) or 1), "fixed_size": sc.get("fixed_size"),
                                 "padding": sc.get("padding", sc.get("pad", "reflect")),
                                 "note": sc.get("note", sc.get("rule", ""))}
        d["training"] = d.pop("training", {}) or {}
        d["model"] = {"name": model.get("name", "model"), "method": method, "interface": interface,
                      "family": spec.legacy_family or interface, "config": cfg, "step": step}
        d["schema_version"] = SCHEMA_VERSION
        return d
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BundleError(f"{where}: a schema-1 manifest this runtime cannot upgrade ({e})") from None


def __getattr__(name: str):
    """``INTERFACE_CONFIGS`` (the table this module kept before the interface specs), with a warning."""
    if name == "INTERFACE_CONFIGS":
        import warnings

        warnings.warn("manifest.INTERFACE_CONFIGS is deprecated; use runtime.interfaces.interface_spec(name).config",
                      DeprecationWarning, stacklevel=2)
        return {n: s.config for n, s in interface_specs().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

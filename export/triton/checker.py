"""Check a Triton model repository: every ``config.pbtxt`` parses with Triton's ModelConfig schema (unknown fields
and enum values fail), and agrees with its model — for ONNX models, every declared input and output exists in
``1/model.onnx`` with the same data type and dims (batch dimension dropped when batching, ``reshape`` honoured) and
every graph input is declared; for ensembles, every step names a model of the repository and maps only tensors
that model declares."""
from __future__ import annotations

from pathlib import Path

from .schema import ONNX_TO_TRITON, model_config_pb2, parse_text


def load_config(mdir: Path):
    return parse_text((Path(mdir) / "config.pbtxt").read_text("utf-8"))


def check_model(mdir: str | Path, *, name: str | None = None) -> list[str]:
    """Problems of one model directory (empty: fine). `name`: the model's name if not the directory's."""
    from google.protobuf import text_format

    mdir = Path(mdir)
    mc = model_config_pb2()
    try:
        cfg = load_config(mdir)
    except (text_format.ParseError, OSError) as e:
        return [f"{mdir.name}/config.pbtxt: not a valid inference.ModelConfig ({e})"]
    problems = []
    want = name or mdir.name
    if cfg.name != want:
        problems.append(f"name {cfg.name!r} differs from the model directory {want!r}")
    if cfg.max_batch_size < 0:
        problems.append("max_batch_size is negative")
    if cfg.HasField("dynamic_batching") and cfg.max_batch_size == 0:
        problems.append("dynamic_batching needs max_batch_size > 0")
    if not any(p.is_dir() and p.name.isdigit() for p in mdir.iterdir()):
        problems.append("no version directory (1/)")
    for e in cfg.input:
        if e.format != mc.ModelInput.FORMAT_NONE and len(e.dims) != 3:
            problems.append(f"input {e.name}: format {mc.ModelInput.Format.Name(e.format)} needs 3 dims")
    if cfg.platform == "onnxruntime_onnx" or cfg.backend == "onnxruntime":
        problems += _check_against_onnx(cfg, mdir / "1" / (cfg.default_model_filename or "model.onnx"))
    elif cfg.platform == "tensorrt_plan":
        if not (mdir / "1" / "model.plan").is_file():
            problems.append("1/model.plan is missing")
    elif cfg.backend == "python":
        if not (mdir / "1" / "model.py").is_file():
            problems.append("1/model.py is missing")
        if (mdir / "1" / "model.onnx").is_file():  # styleforge triton --backend python: the graph it runs
            problems += _check_against_onnx(cfg, mdir / "1" / "model.onnx")
    elif cfg.platform != "ensemble":
        problems.append(f"unexpected platform {cfg.platform!r} / backend {cfg.backend!r}")
    return problems


def _check_against_onnx(cfg, path: Path) -> list[str]:
    import onnx

    if not path.is_file():
        return [f"{path.name} is missing"]
    mc = model_config_pb2()
    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    graph = {}
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        for vi in values:
            if vi.name not in inits:
                tt = vi.type.tensor_type
                graph[(kind, vi.name)] = (ONNX_TO_TRITON.get(tt.elem_type, f"onnx type {tt.elem_type}"),
                                          [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim])
    problems, declared = [], set()
    for kind, entries in (("input", cfg.input), ("output", cfg.output)):
        for e in entries:
            declared.add((kind, e.name))
            if (kind, e.name) not in graph:
                have = ", ".join(n for k, n in graph if k == kind)
                problems.append(f"{kind} {e.name!r} is not a graph {kind} (the graph has: {have})")
                continue
            gtype, gdims = graph[(kind, e.name)]
            ctype = mc.DataType.Name(e.data_type)
            if ctype != gtype:
                problems.append(f"{kind} {e.name}: data_type {ctype}, but the graph has {gtype}")
            dims = list(e.reshape.shape) if e.HasField("reshape") else list(e.dims)
            if cfg.max_batch_size > 0:
                if gdims[:1] != [-1]:
                    problems.append(f"{kind} {e.name}: max_batch_size > 0 but the graph's first dim is {gdims[:1]}, not dynamic")
                gdims = gdims[1:]
            if len(dims) != len(gdims) or any(g != -1 and c != g for c, g in zip(dims, gdims)):
                problems.append(f"{kind} {e.name}: dims {dims} do not match the graph's {gdims} (batch excluded)")
    problems += [f"graph {k} {n!r} is not declared in config.pbtxt" for k, n in graph if (k, n) not in declared]
    return problems


def _check_ensemble(cfg, configs: dict) -> list[str]:
    problems = []
    known = {e.name for e in cfg.input}
    for i, step in enumerate(cfg.ensemble_scheduling.step):
        sub = configs.get(step.model_name)
        if sub is None:
            problems.append(f"step {i}: model {step.model_name!r} is not in the repository")
            continue
        ins, outs = {e.name for e in sub.input}, {e.name for e in sub.output}
        problems += [f"step {i}: {step.model_name} has no input {k!r}" for k in step.input_map if k not in ins]
        problems += [f"step {i}: {step.model_name} has no output {k!r}" for k in step.output_map if k not in outs]
        problems += [f"step {i}: tensor {v!r} is produced by no earlier step" for v in step.input_map.values() if v not in known]
        known |= set(step.output_map.values())
        if sub.max_batch_size < cfg.max_batch_size:
            problems.append(f"step {i}: {step.model_name} batches at most {sub.max_batch_size} < the ensemble's {cfg.max_batch_size}")
    problems += [f"output {e.name!r} is produced by no step" for e in cfg.output if e.name not in known]
    return problems


def check_repository(repo: str | Path) -> dict[str, list[str]]:
    """``{model: problems}`` for every model directory of `repo`."""
    from google.protobuf import text_format

    dirs = sorted(d for d in Path(repo).iterdir() if (d / "config.pbtxt").is_file())
    report = {d.name: check_model(d) for d in dirs}
    configs = {}
    for d in dirs:
        try:
            configs[d.name] = load_config(d)
        except text_format.ParseError:
            pass
    for name, cfg in configs.items():
        if cfg.platform == "ensemble":
            report[name] += _check_ensemble(cfg, configs)
    return report

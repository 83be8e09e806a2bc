"""`styleforge triton` repositories in a REAL Triton Inference Server (tests/triton_server.py: the tritonserver and
Python backend of the nvidia-pytriton wheel, on 127.0.0.1, CPU only).

- ``--backend python``: every model, ensembles included, loads; tritonclient's HTTP client gets StyleForge's own
  outputs (uint8 through the same graph on the same ONNX Runtime: equal, which is within any tolerance).
- ``--backend onnxruntime`` and TensorRT-plan ensembles: this server has no onnxruntime or tensorrt backend, but it
  parses every config.pbtxt first, so each of those models must fail with "unable to find backend library" and never
  with a configuration error (a broken config is shown to fail differently).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed (dev extra)")
pytest.importorskip("onnx")

import triton_server  # noqa: E402
from toy_bundles import write_generator, write_stylizer, write_translator  # noqa: E402

pytestmark = pytest.mark.skipif(triton_server.why_not() is not None, reason=str(triton_server.why_not()))
BACKEND_MISSING = "unable to find backend library for backend"


def _with_engine(path):
    """A stylizer bundle with an engine record for sm 9.0 (the plan bytes are not a real engine)."""
    from styleforge.runtime.bundle import update_bundle
    from styleforge.runtime.manifest import EngineRecord

    profile = {"image": [[1, 3, 8, 8], [1, 3, 512, 512], [4, 3, 1024, 1024]], "style_index": [[1], [1], [4]]}
    update_bundle(path, add_files={"engines/stylize.sm90.plan": b"not a real engine"},
                  patch=lambda m: m.engines.append(EngineRecord(role="stylize", file="engines/stylize.sm90.plan",
                                                                tensorrt="10.16.1.11", compute_capability="9.0",
                                                                precision="fp32", profiles=[profile])))
    return path


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundles")
    return {"toy": write_stylizer(d / "toy.sfbundle"), "cyc": write_translator(d / "cyc.sfbundle"),
            "digits": write_generator(d / "digits.sfbundle"), "ens": _with_engine(write_stylizer(d / "ens.sfbundle"))}


def _repo(bundles, out, backend):
    from styleforge.runtime.cli import main

    assert main(["triton", *map(str, bundles.values()), "--out", str(out), "--backend", backend,
                 "--target-sm", "9.0", "--max-batch", "4"]) == 0
    return out


@pytest.fixture
def server(tmp_path):
    started = []

    def start(repo):
        s = triton_server.Server(repo, tmp_path / f"server{len(started)}")
        started.append(s)
        s.wait_live()
        return s

    yield start
    for s in started:
        s.stop()


def _index(s, expected: int, timeout_s: float = 60.0) -> dict:
    """The repository index once every model has finished loading (READY or UNAVAILABLE)."""
    import time

    import tritonclient.http as http

    client = http.InferenceServerClient(s.url)
    end = time.monotonic() + timeout_s
    while True:
        index = {m["name"]: m for m in client.get_model_repository_index()}
        states = [m.get("state") for m in index.values()]
        # models whose config or ensemble check failed have no state: the server's startup is over once it logs so
        done = len(index) == expected and (all(st in ("READY", "UNAVAILABLE") for st in states) or
                                           ("LOADING" not in states and "failed to load all models" in s.log.read_text()))
        if done or time.monotonic() > end:
            return index
        time.sleep(0.5)


def _infer(client, model, inputs: dict, output: str):
    import tritonclient.http as http
    from tritonclient.utils import np_to_triton_dtype

    ins = []
    for name, value in inputs.items():
        t = http.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
        t.set_data_from_numpy(value)
        ins.append(t)
    return client.infer(model, ins, outputs=[http.InferRequestedOutput(output)]).as_numpy(output)


def test_python_backend_repository_serves_styleforge_outputs(bundles, tmp_path, server):
    import tritonclient.http as http

    from styleforge.runtime import load

    repo = _repo(bundles, tmp_path / "repo", "python")
    names = sorted(p.name for p in repo.iterdir())
    assert names == ["cyc", "cyc_reverse", "digits", "ens", "ens_graph", "ens_post", "ens_pre", "toy"]
    s = server(repo)
    index = _index(s, len(names))
    assert {n: m.get("state") for n, m in index.items()} == {n: "READY" for n in names}, index
    client = http.InferenceServerClient(s.url)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 21, 30, 3), dtype=np.uint8)  # 21x30: padded to the multiple inside, cropped back
    style = np.array([[1], [0]], np.int64)
    for model in ("toy", "ens"):  # the single Python-backend model, and pre -> graph -> post as an ensemble
        ref = np.stack(load(bundles[model], backend="ort-cpu").stylize_batch(list(x), style_index=[1, 0]))
        got = _infer(client, model, {"image": x, "style_index": style}, "stylized")
        assert got.dtype == np.uint8 and np.array_equal(got, ref), model
    cyc = load(bundles["cyc"], backend="ort-cpu")
    got = _infer(client, "cyc_reverse", {"image": x[:1]}, "translated")
    assert np.array_equal(got[0], cyc(x[0], reverse=True))
    gen = load(bundles["digits"], backend="ort-cpu")
    z = gen.latents([0, 1])
    got = _infer(client, "digits", {"z": z, "label": np.array([[0], [2]], np.int64)}, "image")
    assert np.array_equal(got, np.stack(gen.generate(z, [0, 2])))


def test_onnxruntime_and_plan_repositories_fail_only_for_the_missing_backends(bundles, tmp_path, server):
    repo = _repo(bundles, tmp_path / "repo", "onnxruntime")
    shutil.copytree(repo / "toy", repo / "broken")  # the control: a config error fails differently
    cfg = (repo / "broken" / "config.pbtxt").read_text().replace('name: "toy"', 'name: "broken"')
    (repo / "broken" / "config.pbtxt").write_text(cfg.replace("max_batch_size: 4", "max_batch_size: 4\nbogus_field: 1"))
    names = sorted(p.name for p in repo.iterdir())
    assert names == ["broken", "cyc", "cyc_reverse", "digits", "ens", "ens_plan", "ens_post", "ens_pre", "toy"]
    s = server(repo)
    index = _index(s, len(names))
    reasons = {n: (m.get("state"), m.get("reason", "")) for n, m in index.items()}
    log = s.log.read_text()
    config_errors = [line for line in log.splitlines() if "Poll failed for model directory" in line]
    assert len(config_errors) == 1 and "'broken': failed to read text proto" in config_errors[0]  # the control
    for name in ("cyc", "cyc_reverse", "digits", "toy"):
        assert reasons[name][0] == "UNAVAILABLE" and f"{BACKEND_MISSING} 'onnxruntime'" in reasons[name][1], (name, reasons[name])
    assert reasons["ens_plan"][0] == "UNAVAILABLE" and f"{BACKEND_MISSING} 'tensorrt'" in reasons["ens_plan"][1]
    assert reasons["ens_pre"][0] == reasons["ens_post"][0] == "READY"   # Python backend: present here
    # the ensemble passed its own checks and waits for its plan step, which failed for the missing backend only
    assert f"ensemble 'ens' depends on 'ens_plan' which has no loaded version" in log
    assert f"{BACKEND_MISSING} 'tensorrt'" in next(line for line in log.splitlines() if "ensemble 'ens' depends" in line)

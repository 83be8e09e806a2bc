"""The template family end to end, through the generated CLI: train, resume, export, validate, translate.
It is the copy-me family, so this test is also the proof that a family needs no registration anywhere."""
import numpy as np
import pytest

from helpers import run_cli

pytest.importorskip("torch")


def test_template_family_is_found_and_runs_end_to_end(tmp_path):
    from styleforge.runtime import load
    from styleforge.train.core.family import find_method

    fam, method = find_method("template")
    assert fam.package == "styleforge.train.template" and method.name == "template"
    listing = run_cli("train", "--help", check=True).stdout
    assert "stylizer" in listing and "template" not in listing  # hidden from the listing …
    run = tmp_path / "run"
    run_cli("train", "template", "--out", run, "--steps", "2", "--size", "16", "--batch", "1", "--width", "4",
            "--checkpoint-every", "2", "--preview-every", "1", "--no-progress", check=True)  # … but the command works
    # --preview-every is honoured by the shared loop: a preview at step 1, between checkpoints
    assert (run / "previews" / "step-0000001.png").is_file() and not (run / "checkpoints" / "step-0000001").exists()
    p = run_cli("train", "template", "--out", run, "--steps", "3", "--resume", "--no-progress", check=True)
    assert "step-0000003" in p.stdout
    from styleforge.train.core.checkpoint import read_config

    config = read_config(run)
    assert config["train"]["width"] == 4  # not given on resume: taken from the run
    assert (config["family"], config["method"], config["interface"]) == ("template", "template", "translator")
    run_cli("export", run, "--out", tmp_path / "t.sfbundle", check=True)
    model = load(tmp_path / "t.sfbundle", backend="ort-cpu")
    assert model.manifest.model.method == "template" and model.interface == "translator"
    out = model(np.full((9, 13, 3), 128, np.uint8))
    assert out.shape == (9, 13, 3)


def test_generated_flags_refuse_unknown_values(tmp_path):
    p = run_cli("train", "template", "--out", tmp_path / "r", "--size", "18", "--steps", "1", "--no-progress")
    assert p.returncode == 2 and "--size must be a multiple of 4" in p.stderr and "Traceback" not in p.stderr

"""Issue 14 #10: every family exports through torch.onnx's dynamo exporter (torch.export; the default of
torch.onnx.export since PyTorch 2.9) as well as the TorchScript tracer: `export --exporter dynamo`. Each dynamo
bundle must reproduce its golden cases (the PyTorch outputs stored at export) under the family's cpu-fp32
tolerance, keep its dynamic axes dynamic, and say in the manifest which exporter made it. Tiny 1-2 step models."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")  # the dynamo exporter's ONNX builder (train extra)


def _stylizer(d):
    from styleforge.train.stylizer.trainer import train_stylizer

    return train_stylizer(["sample:mosaic", "sample:waves"], d / "run", steps=1, size=32, batch=1, width_mult=0.125,
                          progress=False)


def _pgan(d):  # mid-growth (level 1 of 2, fading in): the growth state must reach the graph as constants
    from styleforge.train.gan import get_trainer_class

    t = get_trainer_class("pgan")(d / "run", {"resolution": 16, "batch": 2, "width_mult": 0.0625, "nz": 8},
                                  steps=2, checkpoint_every=2)
    t.progress = False
    return t.fit()


def _cgan(d):
    from styleforge.train.gan import get_trainer_class

    t = get_trainer_class("cgan")(d / "run", {"resolution": 8, "batch": 2, "width_mult": 0.0625, "nz": 8},
                                  steps=1, checkpoint_every=1)
    t.progress = False
    return t.fit()


def _pix2pix(d):
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer

    t = Pix2PixTrainer(d / "run", {"resolution": 32, "batch": 2, "width_mult": 1 / 16, "n_layers": 2}, steps=1,
                       checkpoint_every=1, progress=False)
    return t.fit()


def _wct(d):
    from styleforge.train.wct.trainer import WCTDecoderTrainer

    WCTDecoderTrainer(d / "wct" / "level1", level=1, size=32, batch_size=1, width_mult=0.125, steps=1,
                      progress=False).fit()
    return d / "wct"


def _template(d):
    from styleforge.runtime.cli import main

    assert main(["train", "template", "--out", str(d / "run"), "--steps", "1", "--size", "16", "--batch", "1",
                 "--width", "4", "--no-progress"]) == 0
    return d / "run"


FAMILIES = {"stylizer": (_stylizer, {}), "gan-pgan": (_pgan, {"dissect": False}), "gan-cgan": (_cgan, {"dissect": False}),
            "image2image": (_pix2pix, {}), "wct": (_wct, {"golden_sizes": "16x24"}), "template": (_template, {})}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_dynamo_export_reproduces_the_golden_cases(family, tmp_path):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.runtime import load, open_bundle
    from styleforge.runtime.validation import validate_bundle

    make, options = FAMILIES[family]
    source = make(tmp_path)
    with torch.random.fork_rng():
        bundle = export_checkpoint(source, tmp_path / "dyn.sfbundle", exporter="dynamo", **options)
    report = validate_bundle(bundle)
    assert report["passed"], [(c["case"], o["output"], o["failed"]) for c in report["cases"] for o in c["outputs"]
                              if not o["passed"]]
    m = open_bundle(bundle).manifest
    assert m.exporter == "dynamo" and all(g.opset >= 18 for g in m.graphs)
    model = load(bundle, backend="ort-cpu")
    if family == "wct":  # batch 2 at a size no golden case used: the batch axis stayed symbolic
        x = np.random.default_rng(0).uniform(0, 255, (2, 3, 20, 12)).astype(np.float32)
        stats = model.style_stats(np.full((32, 32, 3), 90, np.uint8))
        out = model.run({"content": x, "alpha": np.ones(1, np.float32), **stats}, role="stylize")["image"]
        assert out.shape == (2, 3, 20, 12) and np.isfinite(out).all()
    elif family.startswith("gan"):
        z = model.sample_latents(5, seed=3)
        assert model.generate_raw(z, [0, 1, 2, 3, 4] if model.n_classes else None).shape[0] == 5
    else:
        assert model(np.zeros((20, 28, 3), np.uint8)).shape == (20, 28, 3)

"""pix2pix and CycleGAN: train, resume, export, ORT parity at unseen batch sizes and image sizes,
the translate CLI, and the paired/unpaired data loaders. Tiny widths and images throughout."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402

P2P_OPTS = {"resolution": 32, "width_mult": 1 / 16, "batch": 2, "n_layers": 2}
CG_OPTS = {"resolution": 16, "width_mult": 1 / 16, "batch": 2, "n_blocks": 1, "n_layers": 2, "pool_size": 3,
           "decay_start": 1}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _ort(path):
    from styleforge.runtime import load

    return load(path, backend="ort-cpu")


def _torch_translate(g, x255: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return ((g.eval()(torch.from_numpy(x255) / 127.5 - 1.0) + 1.0) * 127.5).numpy()


@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory):
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer

    out = tmp_path_factory.mktemp("p2p")
    t = Pix2PixTrainer(out, dict(P2P_OPTS), steps=2, checkpoint_every=1, progress=False)
    t.fit()
    return out, t


@pytest.fixture(scope="module")
def p2p_bundle(p2p_run, tmp_path_factory):
    from styleforge.export.core.api import export_checkpoint

    return export_checkpoint(p2p_run[0], tmp_path_factory.mktemp("b") / "p2p.sfbundle")


@pytest.fixture(scope="module")
def cg_run(tmp_path_factory):
    from styleforge.train.image2image.cyclegan import CycleGANTrainer

    out = tmp_path_factory.mktemp("cg")
    t = CycleGANTrainer(out, dict(CG_OPTS), steps=2, checkpoint_every=1, progress=False)
    t.fit()
    return out, t


def test_pix2pix_trains_and_resumes(p2p_run):
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer

    out, t = p2p_run
    assert [h["step"] for h in t.history] == [1, 2]
    for h in t.history:
        assert set(h) == {"step", "G_GAN", "G_L1", "D_real", "D_fake"}
        assert all(np.isfinite(v) for v in h.values())
    assert t.netG.depth == 5 and t.netG.size_multiple == 32  # depth follows the 32-px training size
    assert (out / "previews" / "step-0000002.png").is_file()
    from styleforge.train.core.checkpoint import read_config

    cfg = read_config(out)
    assert (cfg["family"], cfg["method"], cfg["interface"]) == ("image2image", "pix2pix", "translator")
    adam_steps = float(t.optG.state_dict()["state"][0]["step"])
    t2 = Pix2PixTrainer(out, dict(P2P_OPTS), steps=3, checkpoint_every=1, progress=False, resume=True)
    assert t2.try_resume() and t2.step == 2 and len(t2.history) == 2
    assert float(t2.optG.state_dict()["state"][0]["step"]) == adam_steps
    for k, v in t.netG.state_dict().items():
        assert torch.equal(v, t2.netG.state_dict()[k]), k


def test_cyclegan_trains_and_resumes_pool_and_scheduler(cg_run):
    from styleforge.train.image2image.cyclegan import CycleGANTrainer

    out, t = cg_run
    assert [h["step"] for h in t.history] == [1, 2]
    assert all(np.isfinite(v) for h in t.history for v in h.values())
    assert len(t.pool_A.images) == 3 and len(t.pool_B.images) == 3  # 2 steps × batch 2, pool of 3
    assert t.schedulers["optG"].last_epoch == 2 and t.lr == 0.0  # decay from step 1 to 0 at the last step
    t2 = CycleGANTrainer(out, dict(CG_OPTS), steps=2, checkpoint_every=1, progress=False, resume=True)
    assert t2.try_resume() and t2.step == 2
    assert len(t2.pool_A.images) == 3
    for a, b in zip(t.pool_A.images + t.pool_B.images, t2.pool_A.images + t2.pool_B.images):
        assert torch.equal(a, b)
    assert t2.schedulers["optG"].last_epoch == 2 and t2.schedulers["optD"].last_epoch == 2
    assert t2.lr == t.lr
    # continuing runs more steps from the restored state
    t3 = CycleGANTrainer(out, {**CG_OPTS, "decay_start": 2}, steps=3, checkpoint_every=1, progress=False, resume=True)
    t3.fit()
    assert t3.step == 3 and len(t3.history) == 3 and np.isfinite(t3.history[-1]["cycle_A"])


def test_pix2pix_export_matches_pytorch_at_unseen_batch_and_size(p2p_run, p2p_bundle):
    from styleforge.runtime.validation import validate_bundle
    from styleforge.train.core.checkpoint import load_modules

    m = json.loads((p2p_bundle / "manifest.json").read_text())
    assert m["model"]["interface"] == "translator" and m["model"]["method"] == "pix2pix"
    assert m["model"]["family"] == "image2image"
    assert m["size_constraints"]["multiple_of"] == 32
    assert "eval mode" in m["model"]["config"]["dropout_at_inference"]
    shapes = sorted(tuple(g["shapes"]["image"]) for g in m["golden"])
    assert shapes == [(1, 3, 32, 32), (2, 3, 32, 64)]
    assert validate_bundle(p2p_bundle, write_report=False)["passed"]
    g = load_modules(p2p_run[0])[0]["netG"]
    x = np.random.default_rng(0).uniform(0, 255, (3, 3, 64, 96)).astype(np.float32)  # unseen batch and size
    got = _ort(p2p_bundle).translate_raw(x)
    ref = _torch_translate(g, x)
    assert got.shape == (3, 3, 64, 96)
    assert np.abs(got - ref).max() < 0.05


def test_cyclegan_export_both_directions_match_pytorch(cg_run, tmp_path):
    from styleforge.export.core.api import export_checkpoint
    from styleforge.runtime.validation import validate_bundle
    from styleforge.train.core.checkpoint import load_modules

    bundle = export_checkpoint(cg_run[0], tmp_path / "cg.sfbundle", golden_sizes="16x16,12x20")
    m = json.loads((bundle / "manifest.json").read_text())
    tiling = {r for t in m["tiling"] for r in (t["stats_role"], t["tiled_role"], t["probe_role"])}  # docs/serve.md
    assert [g["role"] for g in m["graphs"] if g["role"] not in tiling] == ["translate", "translate_reverse"]
    assert [t["role"] for t in m["tiling"]] == ["translate", "translate_reverse"]
    assert m["size_constraints"]["multiple_of"] == 4
    assert validate_bundle(bundle, write_report=False)["passed"]
    mods = load_modules(cg_run[0])[0]
    model = _ort(bundle)
    x = np.random.default_rng(1).uniform(0, 255, (3, 3, 20, 28)).astype(np.float32)
    for reverse, g in ((False, mods["netG_A"]), (True, mods["netG_B"])):
        got = model.translate_raw(x, reverse=reverse)
        assert np.abs(got - _torch_translate(g, x)).max() < 0.05
    with pytest.raises(StyleForgeError, match="multiples of 4"):
        export_checkpoint(cg_run[0], tmp_path / "bad.sfbundle", golden_sizes="15x16")


def test_runtime_pads_and_crops_any_size(p2p_bundle):
    model = _ort(p2p_bundle)
    rng = np.random.default_rng(2)
    for h, w in ((37, 50), (10, 12)):  # odd sizes and one smaller than the 32-px multiple
        out = model(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
    with pytest.raises(StyleForgeError, match="one way only"):
        model(np.zeros((32, 32, 3), np.uint8), reverse=True)


def test_translate_cli(p2p_bundle, tmp_path, cli):
    from styleforge.runtime.images import load_image, save_image

    src = tmp_path / "in.png"
    save_image(src, np.random.default_rng(3).integers(0, 256, (40, 57, 3), dtype=np.uint8))
    p = cli("translate", p2p_bundle, src, "--out", tmp_path / "o.png", "--backend", "ort-cpu")
    assert p.returncode == 0, p.stderr
    assert load_image(tmp_path / "o.png").shape == (40, 57, 3)
    p = cli("translate", p2p_bundle, src, src, "--out", tmp_path / "many", "--max-side", "32")
    assert p.returncode == 0, p.stderr
    assert sorted(q.name for q in (tmp_path / "many").iterdir()) == ["in-2.png", "in.png"]
    assert load_image(tmp_path / "many" / "in.png").shape[:2] == (22, 32)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    p = cli("translate", p2p_bundle, src, bad, "--out", tmp_path / "partial")
    assert p.returncode == 2 and "bad.png" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "partial").exists()  # nothing written when any input is bad


def _save(path, arr):
    from styleforge.runtime.images import save_image

    save_image(path, arr)


def test_paired_loader_both_layouts_stay_aligned(tmp_path):
    from styleforge.train.image2image.data import PairedDataset

    rng = np.random.default_rng(4)
    imgs = [rng.integers(0, 256, (24, 30, 3), dtype=np.uint8) for _ in range(2)]
    (tmp_path / "ab" / "A").mkdir(parents=True)
    (tmp_path / "ab" / "B").mkdir()
    (tmp_path / "sbs").mkdir()
    for k, a in enumerate(imgs):
        _save(tmp_path / "ab" / "A" / f"{k}.png", a)
        _save(tmp_path / "ab" / "B" / f"{k}.bmp", 255 - a)  # names match by stem
        _save(tmp_path / "sbs" / f"{k}.png", np.concatenate([a, 255 - a], axis=1))
    for layout in ("ab", "sbs"):
        ds = PairedDataset.from_folder(tmp_path / layout, 16, seed=0, load=24)
        assert len(ds.pairs) == 2
        a, b = ds.batch(5, 4)
        assert a.shape == b.shape == (4, 3, 16, 16)
        assert float(a.min()) >= -1 and float(a.max()) <= 1
        # B = 255 - A pixelwise, so aligned crops (and flips) give b == -a exactly
        assert torch.allclose(b, -a, atol=1e-6), layout
        a2, _ = ds.batch(5, 4)
        assert torch.equal(a, a2)  # a pure function of (seed, step)


def test_clear_errors_for_bad_data_folders(tmp_path):
    from styleforge.train.image2image.data import PairedDataset, UnpairedDataset

    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(StyleForgeError, match="no such data folder"):
        PairedDataset.from_folder(tmp_path / "nope", 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleForgeError, match="neither A/ and B/"):
        PairedDataset.from_folder(tmp_path / "empty", 16)
    only_a = tmp_path / "onlya" / "A"
    only_a.mkdir(parents=True)
    _save(only_a / "x.png", img)
    with pytest.raises(StyleForgeError, match="both A/ and B/"):
        PairedDataset.from_folder(tmp_path / "onlya", 16)
    with pytest.raises(StyleForgeError, match=r"missing B/"):
        UnpairedDataset.from_folder(tmp_path / "onlya", 16)
    (tmp_path / "onlya" / "B").mkdir()
    with pytest.raises(StyleForgeError, match="holds no images"):
        PairedDataset.from_folder(tmp_path / "onlya", 16)
    with pytest.raises(StyleForgeError, match="holds no images"):
        UnpairedDataset.from_folder(tmp_path / "onlya", 16)
    _save(tmp_path / "onlya" / "B" / "y.png", img)
    with pytest.raises(StyleForgeError, match="no file name in A/ matches"):
        PairedDataset.from_folder(tmp_path / "onlya", 16)
    _save(tmp_path / "onlya" / "B" / "x.png", img)
    with pytest.raises(StyleForgeError, match="no partner"):
        PairedDataset.from_folder(tmp_path / "onlya", 16)
    assert UnpairedDataset.from_folder(tmp_path / "onlya", 16).batch(0, 1)[1].shape == (1, 3, 16, 16)
    (tmp_path / "narrow").mkdir()
    _save(tmp_path / "narrow" / "n.png", np.zeros((40, 20, 3), np.uint8))
    with pytest.raises(StyleForgeError, match="side-by-side"):
        PairedDataset.from_folder(tmp_path / "narrow", 16)


def test_architecture_rules_and_registry():
    from styleforge.train.gan import get_trainer_class
    from styleforge.train.image2image.common import check_patchgan_size, receptive_field
    from styleforge.train.image2image.pix2pix import Pix2PixTrainer, UNetGenerator, unet_depth

    assert receptive_field(3) == 70  # the 70×70 PatchGAN
    assert [unet_depth(r) for r in (64, 96, 256, 512)] == [6, 5, 8, 8]
    with pytest.raises(StyleForgeError, match="multiple of 8"):
        unet_depth(36)
    check_patchgan_size(24, 3)
    with pytest.raises(StyleForgeError, match="too small for a PatchGAN"):
        check_patchgan_size(16, 3)
    g = UNetGenerator(depth=8, width_mult=1 / 16)
    assert sum(isinstance(m, torch.nn.Dropout) for m in g.modules()) == 3  # the paper's three dropout layers
    assert get_trainer_class("pix2pix") is Pix2PixTrainer
    assert get_trainer_class("cyclegan").__name__ == "CycleGANTrainer"

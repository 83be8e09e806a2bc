"""Issue 14 #12: published weights by name (``--vgg-weights imagenet``, ``--inception-weights pt_inception``) resolve
through torch.hub's cache (``$TORCH_HOME/hub/checkpoints``) with the published sha256 prefix checked; nothing
downloads here.

No test can make a file whose sha256 starts with the real prefix (dcbb9e9d…: a 32-bit preimage), so the tests make
a file, name it by its own prefix, and point the table at it: every code path (cache lookup, hash check, the offline
error, torch.hub's downloader and its hash check over a file:// URL) is the real one."""
from __future__ import annotations

import hashlib
import os

import pytest

torch = pytest.importorskip("torch")

from styleforge.runtime.errors import StyleForgeError  # noqa: E402
from styleforge.train.core import weights as W  # noqa: E402

REAL_DOWNLOAD = torch.hub.download_url_to_file


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch.hub cache under tmp (TORCH_HOME), and a downloader that fails the test if called."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # get_dir() reads TORCH_HOME again
    monkeypatch.delenv(W.OFFLINE_ENV, raising=False)

    def no_network(*a, **k):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _published_like(tmp_path, state: dict, stem: str):
    """A state-dict file and the published-style name its own sha256 gives it (``stem-<prefix>.pth``)."""
    src = tmp_path / f"{stem}.src.pth"
    torch.save(state, src)
    prefix = hashlib.sha256(src.read_bytes()).hexdigest()[:8]
    return src, f"{stem}-{prefix}.pth", prefix


def test_published_table_names_torchvisions_files():
    assert W.PUBLISHED[("imagenet", "vgg19")] == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert W.PUBLISHED[("imagenet", "vgg16")] == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert W.PUBLISHED[("pt_inception", "inception_v3")].endswith("/pt_inception-2015-12-05-6726825d.pth")
    for url in W.PUBLISHED.values():
        assert len(W._prefix(os.path.basename(url))) >= 8
    assert W.resolve_weights(None, "vgg19") is None  # no weights: the random(seed=0) network, as before


def test_vgg_imagenet_from_the_cache_offline(hub, tmp_path, monkeypatch, capsys):
    """``VGG(weights="imagenet")``: the cached file is found without network, checked, loaded, and named in the
    description; a corrupted cached file is refused in one line."""
    from styleforge.train.core.vgg import VGG, make_features

    feats = make_features("vgg16")
    for k, p in enumerate(feats.parameters()):
        torch.nn.init.constant_(p, 0.01 * (k + 1))
    state = {f"features.{k}": v.half() for k, v in feats.state_dict().items()}   # torchvision layout, smaller
    src, name, prefix = _published_like(tmp_path, state, "vgg16")
    monkeypatch.setitem(W.PUBLISHED, ("imagenet", "vgg16"), f"https://download.pytorch.org/models/{name}")
    hub.mkdir(parents=True)
    (hub / name).write_bytes(src.read_bytes())
    monkeypatch.setenv(W.OFFLINE_ENV, "1")
    vgg = VGG("vgg16", ["relu1_2"], weights="imagenet")
    assert float(vgg.features[0].weight.flatten()[0]) == pytest.approx(0.01, rel=1e-3)
    assert vgg.description.startswith(f"imagenet({name}, sha256={prefix}")
    assert "random" not in capsys.readouterr().err                          # no random-weights warning
    (hub / name).write_bytes(src.read_bytes() + b"x")
    with pytest.raises(StyleForgeError, match="not the published file") as e:
        VGG("vgg16", ["relu1_2"], weights="imagenet")
    assert "\n" not in str(e.value)


def test_a_cache_miss_offline_is_one_line(hub, monkeypatch):
    monkeypatch.setenv(W.OFFLINE_ENV, "1")
    with pytest.raises(StyleForgeError) as e:
        W.resolve_weights("imagenet", "vgg19")
    msg = str(e.value)
    assert "\n" not in msg and "vgg19-dcbb9e9d.pth" in msg and str(hub) in msg and "download.pytorch.org" in msg


def test_download_goes_through_torch_hub_and_its_hash_check(hub, tmp_path, monkeypatch):
    """torch.hub's own downloader over file:// (no network): a good file lands in the cache and is then used
    offline; a file whose content does not match its name's prefix is refused and leaves nothing behind."""
    src, name, _ = _published_like(tmp_path, {"features.0.weight": torch.zeros(2)}, "vgg19")
    served = tmp_path / "served"
    served.mkdir()
    (served / name).write_bytes(src.read_bytes())
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)
    monkeypatch.setitem(W.PUBLISHED, ("imagenet", "vgg19"), (served / name).as_uri())
    path = W.resolve_weights("imagenet", "vgg19")
    assert path == hub / name and path.read_bytes() == src.read_bytes()
    (served / name).unlink()
    monkeypatch.setenv(W.OFFLINE_ENV, "1")
    assert W.resolve_weights("imagenet", "vgg19") == hub / name            # cached now: no network needed
    monkeypatch.delenv(W.OFFLINE_ENV)
    bad = "vgg16-00000000.pth"
    (served / bad).write_bytes(b"not the published file")
    monkeypatch.setitem(W.PUBLISHED, ("imagenet", "vgg16"), (served / bad).as_uri())
    with pytest.raises(StyleForgeError, match="cannot download"):
        W.resolve_weights("imagenet", "vgg16")
    assert not (hub / bad).exists() and not list(hub.glob("*.partial"))


def test_pt_inception_gets_the_fid_blocks(hub, tmp_path, monkeypatch):
    """``--inception-weights pt_inception`` loads pytorch-fid's weights into the FID variant of the network (its
    pooling differs from torchvision's), ``imagenet`` into the torchvision variant."""
    from styleforge.train.gan.inception import InceptionV3Features, load_inception

    state = {k: v.half() if v.is_floating_point() else v for k, v in InceptionV3Features().state_dict().items()}
    src, name, _ = _published_like(tmp_path, state, "pt_inception-2015-12-05")
    monkeypatch.setitem(W.PUBLISHED, ("pt_inception", "inception_v3"), f"https://example.invalid/{name}")
    hub.mkdir(parents=True)
    (hub / name).write_bytes(src.read_bytes())
    fid = load_inception("pt_inception")
    assert fid.Mixed_5b.fid and fid.Mixed_6e.fid and fid.Mixed_7b.pool == "avg_fid" and fid.Mixed_7c.pool == "max"
    plain = InceptionV3Features()
    plain.load_state_dict(fid.state_dict())
    plain.eval()
    with torch.no_grad():  # same weights, other pooling: other features (blocks compared on small inputs)
        for name, c in (("Mixed_5b", 192), ("Mixed_6b", 768), ("Mixed_7b", 1280), ("Mixed_7c", 2048)):
            x = torch.rand(1, c, 5, 5)
            assert not torch.allclose(getattr(fid, name)(x), getattr(plain, name)(x)), name
    with pytest.raises(StyleForgeError, match="no published pt_inception weights for vgg19"):
        W.resolve_weights("pt_inception", "vgg19")
    with pytest.raises(StyleForgeError, match="not a published name"):
        W.resolve_weights("imagenett", "vgg19")

"""Published weights by name: ``--vgg-weights imagenet``, ``--inception-weights imagenet|pt_inception``.

A name resolves to the file torchvision (or pytorch-fid) publishes, in torch.hub's checkpoint cache
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``): the same files and the
same place torchvision uses, so weights a user already has are found without the network. A file missing
from the cache is fetched with torch.hub's downloader, which checks the sha256 prefix in the file name
before the file lands in the cache. A cached file is checked again on every use (torch.hub loads cached
files unchecked). Offline: a cached file needs no network; ``STYLEFORGE_OFFLINE=1`` turns a cache miss
into one line naming the URL and the cache path. No torchvision import (its wheels do not load beside
the CPU build of torch), no download in tests. A path to a file works as before; no name and no path
keeps the fixed-seed random weights (``random(seed=0)``), with their warning.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlparse

from ...runtime.errors import StyleForgeError

#: (name, architecture) → published URL. The file name carries the first hex digits of the file's sha256
#: (torch.hub's ``name-<sha256 prefix>.ext``). Sources: torchvision models/vgg.py (VGG16_Weights /
#: VGG19_Weights.IMAGENET1K_V1), models/inception.py (Inception_V3_Weights.IMAGENET1K_V1); pytorch-fid
#: src/pytorch_fid/inception.py (FID_WEIGHTS_URL: the TensorFlow FID Inception, ported).
PUBLISHED: dict[tuple[str, str], str] = {
    ("imagenet", "vgg16"): "https://download.pytorch.org/models/vgg16-397923af.pth",
    ("imagenet", "vgg19"): "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    ("imagenet", "inception_v3"): "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    ("pt_inception", "inception_v3"):
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
}
#: torch.hub's pattern for the prefix (torch/hub.py HASH_REGEX)
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
OFFLINE_ENV = "STYLEFORGE_OFFLINE"


def published_names(arch: str | None = None) -> list[str]:
    return sorted({n for n, a in PUBLISHED if arch is None or a == arch})


def is_published_name(spec) -> bool:
    return isinstance(spec, str) and spec in published_names()


def cache_dir() -> Path:
    """torch.hub's checkpoint cache (``torch.hub.get_dir()/checkpoints``; follows ``$TORCH_HOME``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


_DIGESTS: dict[tuple, str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime): a 550 MB VGG19 is hashed once per process."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _prefix(filename: str) -> str:
    found = HASH_REGEX.findall(filename)
    if not found or len(found[-1]) < 8:
        raise StyleForgeError(f"{filename}: a published file name must carry a sha256 prefix (name-<hex>.ext)")
    return found[-1]


def _download(url: str, dst: Path, prefix: str, option: str, spec: str) -> None:
    import torch.hub

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes dst.<uuid>.partial, checks the sha256 prefix while streaming, then renames into place
        torch.hub.download_url_to_file(url, str(dst), hash_prefix=prefix, progress=True)
    except Exception as e:  # noqa: BLE001  (URLError, HTTPError, RuntimeError on a hash mismatch, OSError)
        first = (str(e).splitlines() or [""])[0][:160]
        raise StyleForgeError(f"{option} {spec}: cannot download {url} to {dst} ({type(e).__name__}: {first}); "
                              "without network, place the file there (or pass a file path)") from None


def resolve_weights(spec, arch: str, *, option: str = "--vgg-weights", download: bool | None = None) -> Path | None:
    """The weights file `spec` names for `arch`: None (no weights: random), an existing file, or a published name
    resolved through torch.hub's cache (downloaded when missing, unless offline) and checked against its
    published sha256 prefix."""
    if spec is None or spec == "":
        return None
    key = (str(spec), arch)
    if key not in PUBLISHED:
        path = Path(spec)
        if path.is_file():
            return path
        if str(spec) in published_names():
            raise StyleForgeError(f"{option} {spec}: no published {spec} weights for {arch} "
                                  f"(for {arch}: {', '.join(published_names(arch)) or 'none'})")
        raise StyleForgeError(f"{option} {spec}: no such file, and not a published name "
                              f"({', '.join(published_names(arch))} for {arch})")
    url = PUBLISHED[key]
    filename = os.path.basename(urlparse(url).path)
    prefix = _prefix(filename)
    dst = cache_dir() / filename
    if not dst.is_file():
        if download is None:
            download = os.environ.get(OFFLINE_ENV, "") in ("", "0")
        if not download:
            raise StyleForgeError(f"{option} {spec}: {dst} is not in the cache and downloads are off ({OFFLINE_ENV}); "
                                  f"fetch {url} to that path, or pass a file")
        _download(url, dst, prefix, option, str(spec))
    digest = sha256_file(dst)
    if not digest.startswith(prefix):
        raise StyleForgeError(f"{option} {spec}: {dst} has sha256 {digest[:16]}…, not the published file's "
                              f"({prefix}…, {url}); delete it to download it again, or pass a file you trust")
    return dst


def describe(spec, path: Path) -> str:
    """How manifests and reports name the weights: ``imagenet(vgg19-dcbb9e9d.pth, sha256=…)`` or ``file(…)``."""
    digest = sha256_file(path)[:16]
    kind = str(spec) if is_published_name(spec) else "file"
    return f"{kind}({path.name}, sha256={digest})"

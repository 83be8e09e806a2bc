"""Which pip extra provides a module: turns an ImportError of a command into one line saying what to install.

``pip install styleforge`` installs the runtime alone (numpy, Pillow, onnxruntime); training, export and
the sample images need ``styleforge[train]``, the GPU runners ``styleforge[gpu]`` / ``[gpu-ort]`` /
``[tensorrt]`` (pyproject.toml ``[project.optional-dependencies]``). Torch-free.
"""
from __future__ import annotations

#: top-level import name → the extra that installs it
EXTRA_OF = {
    "torch": "train", "onnx": "train", "onnxscript": "train", "safetensors": "train", "tqdm": "train",
    "scipy": "train", "skimage": "train", "sklearn": "train",
    "tensorrt": "tensorrt", "tensorrt_bindings": "tensorrt", "cuda": "gpu", "openvino": "openvino", "nncf": "openvino",
}


def missing_extra(error: ImportError) -> tuple[str, str] | None:
    """(module, extra) when `error` is a module an extra provides is missing; None for any other ImportError."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    extra = EXTRA_OF.get(name)
    return (name, extra) if extra else None


def missing_extra_message(error: ImportError, command: str = "") -> str | None:
    """One line for a command that needs an extra this install lacks, or None (the ImportError is a bug)."""
    found = missing_extra(error)
    if found is None:
        return None
    name, extra = found
    what = f"`styleforge {command}`" if command else "this command"
    hint = " (on a machine without a GPU, pin the CPU build of torch first: see README \"Install\")" if name == "torch" else ""
    return f"{what} needs the {extra!r} extra (module {name!r} is not installed): pip install \"styleforge[{extra}]\"{hint}"

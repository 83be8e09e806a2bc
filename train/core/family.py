"""How a training family declares itself: ``FAMILY = TrainFamily(...)`` in ``train/<family>/__init__.py``.

Found by :func:`styleforge.runtime.discovery.collect` (a package scan), never by a hand-kept list.
A *family* is a code package (``gan``, ``image2image``); it names its models' modules (they register
``nn.Module`` classes by name) and each *method* it trains (``dcgan``, ``pix2pix``): the trainer class, its
options dataclass, and the ``styleforge train`` subcommand that trains it (several methods may share one
subcommand, chosen by ``--method``, as ``train gan`` does). The runtime *interface* a method's bundles offer
is the trainer's ``interface`` (recorded in its checkpoints). Torch-free: the CLI reads these
declarations without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...runtime.discovery import collect, resolve
from ...runtime.errors import StyleForgeError


@dataclass(frozen=True)
class Method:
    """One trainable method of a family (``dcgan``, ``pix2pix``, ``stylizer`` …)."""

    name: str
    trainer: str                 # "module:Class", module relative to the family package
    options: str                 # "module:Class" of its options dataclass (torch-free module)
    summary: str
    command: str | None = None   # `styleforge train <command>`; several methods sharing one → a --method choice
    description: str = ""        # longer text for the command's --help


@dataclass(frozen=True)
class TrainFamily:
    """A method family: one subpackage of ``train/`` (and of ``export/``, ``docs/``, ``tests/``)."""

    name: str
    summary: str
    methods: tuple[Method, ...] = ()
    model_modules: tuple[str, ...] = ()   # modules (relative) whose import registers the family's models
    hidden: bool = False                  # kept out of --help (the template family)
    package: str = field(default="", compare=False)

    def resolve(self, spec: str):
        return resolve(spec, self.package)


def train_families() -> dict[str, TrainFamily]:
    """Every family under ``styleforge.train``, by package name."""
    out = {}
    for name, fam in collect("styleforge.train", "FAMILY").items():
        object.__setattr__(fam, "package", f"styleforge.train.{name}")
        out[name] = fam
    return out


def all_methods() -> dict[str, tuple[TrainFamily, Method]]:
    """Every trainable method, by name, with its family."""
    out = {}
    for fam in train_families().values():
        for m in fam.methods:
            if m.name in out:
                raise RuntimeError(f"training method {m.name!r} declared by two families")
            out[m.name] = (fam, m)
    return out


def find_method(name: str, *, command: str | None = None) -> tuple[TrainFamily, Method]:
    """The family and method called `name` (optionally only among those of one `train` subcommand)."""
    methods = {k: v for k, v in all_methods().items() if command is None or v[1].command == command}
    if name not in methods:
        flag = "--method" if command else "method"
        raise StyleForgeError(f"{flag}: unknown {'GAN method' if command == 'gan' else 'method'} {name!r}; "
                              f"choose one of: {', '.join(sorted(methods))}")
    return methods[name]


def trainer_class(name: str, *, command: str | None = None):
    fam, method = find_method(name, command=command)
    return fam.resolve(method.trainer)


def options_class(name: str, *, command: str | None = None):
    fam, method = find_method(name, command=command)
    return fam.resolve(method.options)

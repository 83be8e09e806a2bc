"""Training options, declared once: each trainer has an options dataclass (defaults and help), and
its ``styleforge train …`` subcommand is generated from it (as pytorch_GAN_zoo builds its CLI from
its default config). No default is written anywhere else. Torch-free.

    @dataclass
    class MyOptions(RunOptions):
        size: int = opt(256, "crop size in pixels")
        photo: bool = opt(False, "PhotoWCT unpooling")

``bool`` fields become switches (``--photo``; ``--no-progress`` for a field that defaults to True),
``list[str]`` fields repeatable flags, ``X | None`` fields optional values.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, field, fields

from ...runtime.errors import StyleForgeError

#: options that steer one run but are not part of what was trained (left out of the checkpoint config)
RUN_ONLY = ("resume", "progress", "device")


def opt(default=None, help: str = "", *, flag: str | None = None, metavar: str | None = None, choices=None,
        required: bool = False, cli: bool = True):
    """A documented option field. `required` applies to the command line (the Python API checks in the trainer)."""
    meta = {"help": help, "flag": flag, "metavar": metavar, "choices": choices,
            "required": required, "cli": cli}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunOptions:
    """What every training run takes; families subclass it (and may redeclare a default)."""

    steps: int = opt(1000, "optimiser steps in all")
    seed: int = opt(0, "seed of the weights, the data order and the noise")
    checkpoint_every: int | None = opt(None, "steps between checkpoints (default: steps/4)")
    preview_every: int | None = opt(None, "steps between previews (default: every checkpoint)")
    resume: bool = opt(False, "continue the run in --out from its latest checkpoint (optimiser state too)")
    device: str = opt("cpu", "torch device for training (cpu, cuda, cuda:1)")
    progress: bool = opt(True, "progress bar")


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _base_type(tp):
    """(scalar type, is_list) of an annotation: ``int | None`` → (int, False); ``list[str]`` → (str, True)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else (str, False)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return (args[0] if args else str), True
    return tp, False


def flag_of(f: dataclasses.Field, hint) -> str:
    if f.metadata.get("flag"):
        return f.metadata["flag"]
    name = f.name.replace("_", "-")
    tp, _ = _base_type(hint)
    if tp is bool and f.default is True:
        return f"--no-{name}"
    return f"--{name}"


def default_of(f: dataclasses.Field):
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def cli_fields(cls) -> list[tuple[dataclasses.Field, object]]:
    hints = _hints(cls)
    return [(f, hints[f.name]) for f in fields(cls) if f.metadata.get("cli", True)]


def _add(parser, f, hint, *, help_text: str, required: bool) -> None:
    """One flag. Its argparse default is SUPPRESS: a flag not given leaves no attribute, so the dataclass
    default applies and, on --resume, the run's recorded value (see Trainer)."""
    tp, is_list = _base_type(hint)
    names = [flag_of(f, hint)]
    kw = {"dest": f.name, "help": help_text, "default": argparse.SUPPRESS}
    if tp is bool:  # a switch: --x sets True (default False); --no-x sets False (default True)
        negative = names[0].startswith("--no-")
        kw["action"] = "store_false" if negative else "store_true"
        if negative:
            kw["help"] = "turn off: " + help_text
    else:
        kw.update(type=tp, required=required)
        if is_list:
            kw["action"] = "append"
        for key in ("metavar", "choices"):
            if f.metadata.get(key):
                kw[key] = f.metadata[key]
    parser.add_argument(*names, **kw)


def _default_text(f, hint) -> str:
    d = default_of(f)
    tp, is_list = _base_type(hint)
    return "" if tp is bool or is_list or d is None else f" (default: {d})"


def add_arguments(parser: argparse.ArgumentParser, cls, *, skip: tuple[str, ...] = ()) -> None:
    """Flags for every field of `cls` (defaults and help from the dataclass)."""
    for f, hint in cli_fields(cls):
        if f.name not in skip:
            _add(parser, f, hint, help_text=f.metadata.get("help", "") + _default_text(f, hint),
                 required=bool(f.metadata.get("required")))


def add_union_arguments(parser: argparse.ArgumentParser, classes: dict[str, type], *, skip: tuple[str, ...] = ()) -> None:
    """Flags for the union of several methods' options (``train gan --method NAME``): each flag's help names
    the methods that take it, with their defaults when they differ."""
    seen: dict[str, tuple] = {}
    for method, cls in classes.items():
        for f, hint in cli_fields(cls):
            if f.name not in skip:
                seen.setdefault(f.name, (f, hint, []))[2].append((method, f))
    group = parser.add_argument_group("method options (each flag says which --method takes it)")
    for name, (f, hint, users) in seen.items():
        everyone = len(users) == len(classes)
        texts = {_default_text(uf, hint) for _, uf in users}
        if everyone and len(texts) == 1:
            detail = texts.pop()
        else:
            detail = " [" + ", ".join(m + (_default_text(uf, hint).replace(" (default: ", ": ").rstrip(")"))
                                      for m, uf in users) + "]"
        _add(parser if everyone else group, f, hint, help_text=f.metadata.get("help", "") + detail, required=False)


def given(args: argparse.Namespace, cls) -> dict:
    """The options of `cls` given on the command line (flags not given leave no attribute)."""
    return {f.name: getattr(args, f.name) for f, _ in cli_fields(cls) if hasattr(args, f.name)}


def make_options(cls, options=None, overrides: dict | None = None, *, what: str = "options"):
    """An instance of `cls` from an instance or a dict (None values = not given) plus keyword overrides;
    unknown names are refused with one line. Returns (options, names explicitly given)."""
    values: dict = {}
    if isinstance(options, cls):
        values = {k: v for k, v in dataclasses.asdict(options).items()}
        base = cls()
        explicit = {k for k, v in values.items() if v != getattr(base, k)}
    elif options is None:
        explicit = set()
    elif isinstance(options, dict):
        values = {k: v for k, v in options.items() if v is not None}
        explicit = set(values)
    else:
        raise TypeError(f"options must be a {cls.__name__} or a dict, got {type(options).__name__}")
    more = {k: v for k, v in (overrides or {}).items() if v is not None}
    values.update(more)
    explicit |= set(more)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise StyleForgeError(f"{what}: {flags} is not an option here (options: "
                              f"{', '.join('--' + n.replace('_', '-') for n in sorted(names))})")
    return cls(**values), explicit

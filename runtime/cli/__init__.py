"""The `styleforge` command: a thin argparse layer over the Python API.

Every subcommand lives in a command module with a ``register(cli)`` function, found by a package
scan (:func:`command_modules`): each family's ``train/<family>/commands.py`` and
``export/<family>/commands.py``, and every module of ``runtime/cli/``. A command module defines its
arguments with argparse alone and imports heavy libraries (torch, onnx) only inside the function
that runs it, so runtime subcommands start without torch.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

from ..discovery import children, has_module
from ..errors import StyleForgeError

#: Layers whose subpackages may hold a ``commands`` module (the runtime's own commands are runtime/cli/*).
COMMAND_LAYERS = ("styleforge.train", "styleforge.export")

#: Order of the top-level commands in ``styleforge --help`` (the pipeline's order); others follow.
HELP_ORDER = ["train", "optimize", "export", "validate", "engine", "stylize", "texture", "generate", "translate",
              "latent", "color-transfer", "bench", "doctor", "eval", "demo", "samples"]

GROUPS = {
    "train": "train a model (stylizer, wct-decoder, gan)",
    "optimize": "optimise an image against a fixed network (inversion, texture, Gatys style transfer, DFI)",
    "latent": "latent-space tools for generator bundles",
    "engine": "TensorRT engines for a bundle",
    "eval": "quality measures of bundles (eval gan: offline Fréchet distance, cgan label accuracy, FID)",
    "tiling": "graphs that run a bundle on images of any size in tiles (docs/serve.md)",
}


class CLI:
    """Collects subcommands; ``cli.command("stylize", help=...)`` returns an argparse parser."""

    def __init__(self):
        self.parser = argparse.ArgumentParser(
            prog="styleforge",
            description="Train, export, validate and run neural style transfer and image synthesis models.")
        self.parser.add_argument("--version", action="version", version=f"styleforge {_version()}")
        self._top = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}
        self.commands: list[argparse.ArgumentParser] = []

    def group(self, name: str):
        if name not in self._groups:
            p = self._top.add_parser(name, help=GROUPS.get(name, ""), description=GROUPS.get(name, ""))
            p.set_defaults(func=lambda a, p=p: (p.print_help(), 2)[1])
            self._groups[name] = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
        return self._groups[name]

    def command(self, name: str, *, help: str, group: str | None = None, description: str | None = None,
                hidden: bool = False):
        subs = self.group(group) if group else self._top
        p = subs.add_parser(name, help=argparse.SUPPRESS if hidden else help, description=description or help,
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if hidden:  # argparse keeps a listing entry for SUPPRESS help; drop it
            subs._choices_actions = [a for a in subs._choices_actions if a.dest != name]
        self.commands.append(p)
        return p

    def add_trust_arguments(self) -> None:
        """--allow-legacy-manifest on every command that opens bundles (those whose positional is BUNDLE or
        BUNDLE…, by the commands' own naming): digest-less manifests are refused unless the user says so."""
        for p in self.commands:
            if any(not a.option_strings and a.dest in ("bundle", "bundles") for a in p._actions):
                p.add_argument("--allow-legacy-manifest", action="store_true",
                               help="also open bundles whose manifest has no digest (schema 2 and older): only for "
                                    "bundles you trust, nothing shows they are unchanged since export")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("styleforge")
    except Exception:
        return "unknown"


def command_modules() -> list[str]:
    """Every module that registers commands, found by scanning the layers (no hand-kept list)."""
    mods = []
    for layer in COMMAND_LAYERS:
        if has_module(layer):
            mods += [f"{layer}.{c}.commands" for c in children(layer) if has_module(f"{layer}.{c}.commands")]
    return mods + [f"{__name__}.{c}" for c in children(__name__)]


def build_cli() -> CLI:
    cli = CLI()
    for mod in command_modules():
        module = importlib.import_module(mod)
        if hasattr(module, "register"):
            module.register(cli)
    cli.add_trust_arguments()
    rank = {name: i for i, name in enumerate(HELP_ORDER)}
    cli._top._choices_actions.sort(key=lambda a: rank.get(a.dest, len(rank)))
    return cli


BACKEND_HELP = ("auto | ort-cpu | openvino | ort-cuda | ort-trt | tensorrt | torch-eager | torch-cuda (auto: the best runner "
                "that supports the graph here; -v says which and why; `styleforge doctor` lists them)")
HOST_CODE_HELP = ("let the tensorrt runner load version-compatible engines, which run host code embedded in the "
                  "bundle (native code from whoever built it): only for bundles you trust")


def add_host_code_argument(p) -> None:
    """--allow-engine-host-code (issue 20: a bundle never turns engine host code on by itself)."""
    p.add_argument("--allow-engine-host-code", action="store_true", help=HOST_CODE_HELP)


def add_runner_option_argument(p) -> None:
    """--runner-option KEY=VALUE (repeatable): options for the runner (docs/deploy.md "Session policy")."""
    p.add_argument("--runner-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a runner option, repeatable: ort-cpu spinning=auto|on|off, opt_level=all|extended|basic|"
                        "disabled, mem_arena=on|off; openvino hint=latency|throughput, precision=f32|bf16|f16, "
                        "dynamic=on|off")


def parse_runner_options(items) -> dict:
    """["spinning=off", "threads=2"] → {"spinning": False, "threads": 2}: on/off/true/false are booleans, whole
    numbers ints, the rest strings; a malformed item is a one-line error."""
    from .. import errors

    out = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise errors.StyleForgeError(f"--runner-option {item!r}: expected KEY=VALUE")
        v = value.strip()
        low = v.lower()
        out[key.strip()] = (True if low in ("on", "true", "yes") else False if low in ("off", "false", "no")
                            else int(v) if v.lstrip("-").isdigit() else v)
    return out


def add_backend_arguments(p, default: str = "auto") -> None:
    """--backend, --allow-engine-host-code, --runner-option and -v/--verbose (prints which runner each graph runs
    on, and why the others were skipped)."""
    p.add_argument("--backend", default=default, help=BACKEND_HELP)
    add_host_code_argument(p)
    add_runner_option_argument(p)
    p.add_argument("-v", "--verbose", action="count", default=0, help="say which runner runs each graph, and why")


def backend_options(args) -> dict:
    """The runner options the backend arguments ask for (only those set, so defaults stay the runners')."""
    opts = parse_runner_options(getattr(args, "runner_option", None))
    return {**opts, "allow_engine_host_code": True} if getattr(args, "allow_engine_host_code", False) else opts


class _Format(logging.Formatter):
    def format(self, record):
        level = "warning: " if record.levelno >= logging.WARNING else ""
        return f"styleforge: {level}{record.getMessage()}"


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (main() may run many times in one process)."""

    _styleforge = True

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(verbose: int = 0) -> None:
    """StyleForge's log lines go to stderr: warnings always (e.g. a runner that failed to start under auto),
    the runner choices with -v."""
    logger = logging.getLogger("styleforge")
    if not any(getattr(h, "_styleforge", False) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_Format())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


#: OSErrors that mean "the disk refused": one line, not a traceback (every write is atomic: nothing half-written)
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


def main(argv: list[str] | None = None) -> int:
    cli = build_cli()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "func", None):
        cli.parser.print_help()
        return 2
    configure_logging(getattr(args, "verbose", 0) or 0)
    from ..bundle import allow_legacy_manifests

    try:
        with allow_legacy_manifests(getattr(args, "allow_legacy_manifest", False)):
            rc = args.func(args)
    except StyleForgeError as e:
        print(f"styleforge: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # a command that needs an extra this install lacks (runtime-only: no torch)
        from ..extras import missing_extra_message

        msg = missing_extra_message(e, _command_name(args))
        if msg is None:
            raise
        print(f"styleforge: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("styleforge: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno not in DISK_ERRORS:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"styleforge: error: {e.strerror or e}{where} (what was there before is unchanged)", file=sys.stderr)
        return 2
    return int(rc or 0)


def _command_name(args) -> str:
    """``train stylizer``, ``export``, … from parsed arguments (the group's subcommand follows the group)."""
    top = getattr(args, "command", None) or ""
    sub = getattr(args, f"{top}_command", None)
    return f"{top} {sub}" if sub else top


def positive_int(text: str) -> int:
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())

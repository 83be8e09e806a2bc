"""`styleforge train …` generated from every family's declared methods and options dataclasses, and
`styleforge samples --out DIR` (the bundled sample images as PNG files). Argparse only at import time."""
from __future__ import annotations

import argparse
import sys
from functools import partial


def register(cli) -> None:
    p = cli.command("samples", help="write the bundled sample images (photos and textures) as PNG files")
    p.add_argument("--out", required=True, help="folder to write into")
    p.set_defaults(func=run_samples)
    register_train_commands(cli)


def run_samples(args) -> int:
    from .samples import write_samples

    for path in write_samples(args.out):
        print(path)
    return 0


def train_command_groups() -> dict[str, list]:
    """``{subcommand: [(family, method), …]}`` over every declared method."""
    from .family import train_families

    groups: dict[str, list] = {}
    for fam in train_families().values():
        for m in fam.methods:
            if m.command:
                groups.setdefault(m.command, []).append((fam, m))
    return groups


def register_train_commands(cli) -> None:
    from .options import add_arguments, add_union_arguments

    for command, members in sorted(train_command_groups().items()):
        hidden = all(fam.hidden for fam, _ in members)
        methods = {m.name: (fam, m) for fam, m in members}
        out_help = "run folder (checkpoints/, previews/, run.json)"
        if len(members) == 1:
            fam, m = members[0]
            p = cli.command(command, group="train", help=m.summary, description=m.description or m.summary,
                            hidden=hidden)
            p.add_argument("--out", required=True, help=out_help)
            add_arguments(p, fam.resolve(m.options))
            p.set_defaults(func=partial(run_train, methods=methods, single=m.name))
        else:
            names = " | ".join(methods)
            p = cli.command(command, group="train", help=f"train a {command.upper()} method ({names})",
                            description=f"Train one of: {names}. Each flag below says which of them take it and "
                                        "their defaults; a flag the chosen method does not take is refused.",
                            hidden=hidden)
            p.add_argument("--method", metavar="NAME", help=f"{names} (required)")
            p.add_argument("--family", dest="method", metavar="NAME", action=OldFlagName,
                           help="old name of --method (works, with a note)")
            p.add_argument("--out", required=True, help=out_help)
            add_union_arguments(p, {name: fam.resolve(m.options) for name, (fam, m) in methods.items()})
            p.set_defaults(func=partial(run_train, methods=methods, single=None))


class OldFlagName(argparse.Action):
    """A renamed flag's old name: sets the new flag's value and prints a one-line note saying it is an alias."""

    def __call__(self, parser, namespace, values, option_string=None):
        new = "--" + self.dest.replace("_", "-")
        print(f"note: {option_string} is an old name of {new}; use {new} {values}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def run_train(args: argparse.Namespace, *, methods: dict, single: str | None) -> int:
    from ...runtime.errors import StyleForgeError
    from .family import find_method
    from .options import cli_fields, given

    name = single or getattr(args, "method", None)
    if name is None:
        raise StyleForgeError(f"--method: give one of {', '.join(methods)}")
    if name not in methods:
        fam, m = find_method(name, command=next(iter(methods.values()))[1].command)  # raises the listing error
    fam, m = methods[name]
    options_cls = fam.resolve(m.options)
    values = given(args, options_cls)
    if single is None:  # union parser: refuse flags the chosen method does not take
        own = {f.name for f, _ in cli_fields(options_cls)}
        foreign = sorted(k for k in vars(args) if k not in own
                         and k not in ("method", "out", "func", "command") and not k.endswith("_command"))
        if foreign:
            flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
            raise StyleForgeError(f"{flags}: not an option of --method {name}")
    trainer_cls = fam.resolve(m.trainer)
    trainer = trainer_cls(trainer_cls.run_dir(args.out, values), values)
    ckpt = trainer.fit()
    if trainer.world.main:
        print(trainer.report(ckpt))
    return 0

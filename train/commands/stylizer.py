"""train stylizer / bench / demo subcommands (filled in by the stylizer work)."""


def register(cli) -> None:
    pass

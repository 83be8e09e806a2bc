"""`styleforge samples --out DIR`: write the bundled sample images as PNG files."""


def register(cli) -> None:
    p = cli.command("samples", help="write the bundled sample images (photos and textures) as PNG files")
    p.add_argument("--out", required=True, help="folder to write into")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..samples import write_samples

    for path in write_samples(args.out):
        print(path)
    return 0

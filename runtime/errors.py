"""The one exception type users see: a clear, one-line message; the CLI prints it without a traceback."""


class StyleForgeError(Exception):
    """A problem the user can fix (bad input, bad bundle, bad name), with a message that says which."""


class BundleError(StyleForgeError):
    """A bundle is missing, malformed, or fails its hash check."""


class ImageError(StyleForgeError):
    """An input image cannot be read or is unreasonable; the message names the file and the reason."""


def unknown_name(kind: str, name: str, choices) -> StyleForgeError:
    """Error for a name looked up in a registry: lists the names that do exist."""
    choices = sorted(choices)
    return StyleForgeError(f"unknown {kind} {name!r}; choose one of: {', '.join(choices) or '(none registered)'}")

"""The one way StyleForge finds what it holds: scan a package's children with ``pkgutil``.

A family declares itself in its own subpackage (``train/<family>/__init__.py`` holds ``FAMILY``,
``export/<family>/__init__.py`` holds ``EXPORTER``, ``runtime/families/<interface>.py`` registers an
interface, any ``commands.py`` holds ``register(cli)``); nothing keeps a list of them. Torch-free.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil


def children(package: str) -> list[str]:
    """Names of the direct submodules and subpackages of `package`, sorted; private ones (``_x``) skipped."""
    pkg = importlib.import_module(package)
    return sorted(m.name for m in pkgutil.iter_modules(getattr(pkg, "__path__", [])) if not m.name.startswith("_"))


def has_module(name: str) -> bool:
    """Whether module `name` exists (its parent packages are imported, the module itself is not)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def collect(package: str, attr: str, *, module: str | None = None) -> dict[str, object]:
    """``{child: child.attr}`` (or ``child.<module>.attr``) for every child of `package` that defines `attr`."""
    found = {}
    for name in children(package):
        target = f"{package}.{name}" + (f".{module}" if module else "")
        if module and not has_module(target):
            continue
        value = getattr(importlib.import_module(target), attr, None)
        if value is not None:
            found[name] = value
    return found


def import_children(package: str) -> list[str]:
    """Import every child of `package` (modules that register something on import); returns their names."""
    names = children(package)
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names


def resolve(spec: str, package: str | None = None):
    """``"module:attr"`` → the object; `module` may be relative to `package` (``"trainers:DCGANTrainer"``)."""
    mod, _, attr = spec.partition(":")
    module = importlib.import_module(mod if package is None or mod.startswith("styleforge.") else f"{package}.{mod}")
    return getattr(module, attr) if attr else module

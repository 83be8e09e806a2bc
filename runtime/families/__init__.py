"""Runtime families: importing this package registers each one (see runtime/model.py)."""
from importlib import import_module

#: modules under styleforge.runtime.families that register a family; add yours here.
FAMILY_MODULES = ["stylizer", "generator", "wct", "translator"]

for _name in FAMILY_MODULES:
    import_module(f"{__name__}.{_name}")

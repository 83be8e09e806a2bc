"""Stand-in for tensorrt.plugin.AutoTuneCombination (only a class is needed for validation)."""
from __future__ import annotations


class AutoTuneCombination:
    def __init__(self, io_types: str | None = None, layouts: str | None = None, tactics=None):
        self.io_types, self.layouts, self.tactics = io_types, layouts, tactics

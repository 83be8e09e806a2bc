"""Stylizer checkpoints → ``stylizer`` bundles (one ``stylize`` graph). docs/stylizer.md."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="stylizer", checkpoint_families=("stylizer",), exporter="exporter:export_stylizer",
                        torch_graphs="exporter:torch_graphs")

"""Stylizer checkpoints → ``stylizer`` bundles (one ``stylize`` graph). docs/stylizer.md."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="stylizer", methods=("stylizer",), exporter="exporter:export_stylizer",
                        torch_graphs="exporter:torch_graphs")

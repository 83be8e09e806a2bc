"""Template family checkpoints → ``translator`` bundles (see train/template/__init__.py)."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="template", methods=("template",), exporter="exporter:export_template",
                        torch_graphs="exporter:torch_graphs")

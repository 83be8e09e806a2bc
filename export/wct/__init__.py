"""WCT folders (per-level decoder runs) → ``wct`` bundles (encode_style, stylize, stylize_pair). docs/wct.md."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="wct", methods=("wct-decoder",), exporter="exporter:export_wct",
                        torch_graphs="exporter:torch_graphs",
                        detect="styleforge.train.wct.trainer:is_wct_dir")

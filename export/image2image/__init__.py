"""pix2pix and CycleGAN checkpoints → ``translator`` bundles. docs/image2image.md."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="image2image", methods=("pix2pix", "cyclegan"),
                        exporter="exporter:export_translator", torch_graphs="exporter:torch_graphs")

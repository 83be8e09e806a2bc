"""Latent-space GAN checkpoints (dcgan, wgan, wgan-gp, cgan, pgan) → ``generator`` bundles. docs/gan.md."""
from ..core.family import ExportFamily

EXPORTER = ExportFamily(name="gan", methods=("dcgan", "wgan", "wgan-gp", "cgan", "pgan"),
                        exporter="exporter:export_generator", torch_graphs="exporter:torch_graphs")

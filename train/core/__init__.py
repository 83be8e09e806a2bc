"""What every training family shares: the trainer loop, checkpoints, model registry, options, family
declarations, VGG, Gram matrices, content data and the bundled samples. Import-light (no torch here)."""

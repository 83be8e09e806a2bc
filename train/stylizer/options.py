"""Defaults of ``styleforge train stylizer`` (torch-free, so the CLI can show them without importing torch).

Loss weights on our normalisation (VGG input in [0, 1], Gram / (C·H·W), mean-squared errors):
those of the PyTorch reference implementation of Johnson et al. (content 1e5, style 1e10);
total variation on the [0, 1] output as a light regulariser. Adam at 1e-3 (Johnson et al.).
"""
DEFAULTS = dict(steps=2000, size=256, batch=4, content_weight=1e5, style_weight=1e10, tv_weight=1e2,
                lr=1e-3, width_mult=1.0, num_res_blocks=5, seed=0, checkpoint_every=200, style_size=None)

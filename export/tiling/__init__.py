"""Tiling graphs: what lets the runtime run images of any size in tiles with flat memory (runtime/tiling.py).

For a graph with instance normalisation, ``graphs`` derives three graphs that share the original's weights (one
external weights file): ``<role>.stats`` (the graph + every InstanceNormalization input's mean and variance as
outputs), ``<role>.tiled`` (every InstanceNormalization takes its statistics as inputs) and ``<role>.probe`` (the
tiled graph that also outputs each norm layer's input, for exact statistics over tiles), and measures the graph's
receptive field to set the tiles' context margin. Exporters call :func:`add_tiling`; ``styleforge tiling add``
adds the graphs to an existing bundle. docs/serve.md, "Images of any size".
"""

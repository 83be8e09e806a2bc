"""styleforge.export — checkpoints → validated bundles (ONNX graphs, golden I/O, manifest, engines)."""

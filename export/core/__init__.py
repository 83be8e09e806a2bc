"""What every exporter shares: the one call to the ONNX exporter, the bundle writer, the Python API
(``export_checkpoint``) and the ``styleforge export`` command. Import-light (no torch here)."""

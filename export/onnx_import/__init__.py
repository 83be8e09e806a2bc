"""``styleforge import-onnx``: wrap an ONNX image model StyleForge did not train as a bundle (api.py)."""

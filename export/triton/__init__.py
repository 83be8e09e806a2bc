"""`styleforge triton BUNDLE… --out REPO`: a Triton Inference Server model repository from bundles (docs/serve.md).

export/convert/io_uint8.py puts the runtime's pre/post-processing into the ONNX graph (uint8 NHWC in and out),
``schema`` loads Triton's own ModelConfig protobuf schema from tritonclient, ``writer`` writes the repository
(``config.pbtxt`` + ``1/model.onnx``, or a TensorRT ``model.plan`` inside an ensemble with Python-backend
pre/post-processing), ``checker`` parses every ``config.pbtxt`` with that schema and compares it with the graph.
"""

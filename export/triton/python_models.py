"""Source of the Python-backend models: the two that surround a TensorRT plan in an ensemble, ``pre`` (uint8 NHWC →
float NCHW, reflect/edge-padded to the size multiple) and ``post`` (crop back to the request's H×W, round half to
even, clip, uint8 NHWC), with the same maths as the runtime and as the in-graph version (export/convert/io_uint8.py),
numpy only; and ``GRAPH`` (``styleforge triton --backend python``), which runs the ``model.onnx`` beside it with
ONNX Runtime on the CPU. The writer fills in the tensor names and the multiple and writes them as ``1/model.py``."""

PRE = '''"""Triton Python backend: uint8 N×H×W×3 RGB → float32 N×3×H'×W', padded to a multiple of {multiple} (StyleForge)."""
import numpy as np
import triton_python_backend_utils as pb_utils

MULTIPLE = {multiple}


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "{image}").as_numpy()
            x = x.astype(np.float32).transpose(0, 3, 1, 2)
            h, w = x.shape[-2:]
            ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
            if ph or pw:
                mode = "reflect" if (ph < h and pw < w) else "edge"
                x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
            out = pb_utils.Tensor("{nchw}", np.ascontiguousarray(x))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
'''

POST = '''"""Triton Python backend: float32 N×3×H'×W' → uint8 N×H×W×3, cropped to the request image's size (StyleForge)."""
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            y = pb_utils.get_input_tensor_by_name(request, "{nchw}").as_numpy()
            h, w = pb_utils.get_input_tensor_by_name(request, "{image}").as_numpy().shape[1:3]
            y = np.clip(np.rint(y[:, :, :h, :w]), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
            out = pb_utils.Tensor("{output}", np.ascontiguousarray(y))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
'''

GRAPH = '''"""Triton Python backend: the StyleForge graph 1/model.onnx on ONNX Runtime's CPU provider (styleforge triton
--backend python). Inputs and outputs are the graph's own, by name; a batch Triton gathered is run request by request
(images of a batch may differ in size)."""
import os

import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("STYLEFORGE_TRITON_THREADS", "0"))
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                feed = {{n: pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in self.inputs}}
                values = self.session.run(self.outputs, feed)
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor(n, v) for n, v in zip(self.outputs, values)]))
            except Exception as e:  # one bad request fails alone, with ONNX Runtime's message
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e))))
        return responses
'''

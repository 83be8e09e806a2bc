"""Source of the two Python-backend models that surround a TensorRT plan in an ensemble: ``pre`` (uint8 NHWC →
float NCHW, reflect/edge-padded to the size multiple) and ``post`` (crop back to the request's H×W, round half to
even, clip, uint8 NHWC). The same maths as the runtime and as the in-graph version (export/convert/io_uint8.py); numpy only. The writer
fills in the tensor names and the multiple and writes them as ``1/model.py``."""

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

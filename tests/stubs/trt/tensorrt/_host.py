"""What TensorRT's C++ side does with a Python plugin, done from Python for tests: find the creator in the registry,
create the plugin from fields (as the ONNX parser hands them over), ask for output types and shapes, enqueue.
Works the same over NVIDIA's plugin layer and over the stand-in (they implement the same creator/plugin methods)."""
import numpy as np

import tensorrt as trt

_FIELD_TYPES = {np.dtype(np.float32): trt.PluginFieldType.FLOAT32, np.dtype(np.float64): trt.PluginFieldType.FLOAT64,
                np.dtype(np.int32): trt.PluginFieldType.INT32, np.dtype(np.int64): trt.PluginFieldType.INT64,
                np.dtype(np.int8): trt.PluginFieldType.INT8, np.dtype(np.int16): trt.PluginFieldType.INT16,
                np.dtype(np.float16): trt.PluginFieldType.FLOAT16}


def create(plugin_id: str, fields: dict, phase=trt.TensorRTPhase.BUILD):
    """The plugin object TensorRT would make from ``fields`` (name -> numpy array, str or bytes)."""
    ns, name = plugin_id.split("::")
    creator = trt.get_plugin_registry().get_creator(name, "1", ns)
    if creator is None:
        raise LookupError(f"no creator for {plugin_id} version 1")
    collection = []
    for key, value in fields.items():
        if isinstance(value, str):
            collection.append(trt.PluginField(key, np.frombuffer(value.encode(), np.int8), trt.PluginFieldType.CHAR))
        elif isinstance(value, bytes):
            collection.append(trt.PluginField(key, np.frombuffer(value, np.int8), trt.PluginFieldType.UNKNOWN))
        else:
            value = np.asarray(value)
            collection.append(trt.PluginField(key, value, _FIELD_TYPES[value.dtype]))
    return creator.create_plugin(name, ns, trt.PluginFieldCollection(collection), phase)


def outputs(plugin, inputs):
    """``inputs``: [(shape, DataType)] -> [(shape, DataType)] of the outputs, through the plugin's callbacks."""
    types = plugin.get_output_data_types([t for _, t in inputs], [len(s) for s, _ in inputs])
    builder = trt.IExprBuilder()
    exprs = []
    for shape, _ in inputs:
        e = trt.DimsExprs(len(shape))
        for i, extent in enumerate(shape):
            e[i] = builder.constant(int(extent))
        exprs.append(e)
    shapes = plugin.get_output_shapes(exprs, [], builder)
    return [(tuple(x.get_constant_value() for x in s), t) for s, t in zip(shapes, types)]


def _contiguous(shape):
    strides, acc = [], 1
    for extent in reversed(shape):
        strides.insert(0, acc)
        acc *= int(extent)
    return trt.Dims(strides)


def enqueue(plugin, inputs, outs, stream: int = 0):
    """``inputs``/``outs``: [(device pointer, shape, DataType)]; runs the plugin's enqueue as the engine would."""
    runtime = plugin.get_capability_interface(trt.PluginCapabilityType.RUNTIME)
    desc = [[trt.PluginTensorDesc(s, t) for _, s, t in group] for group in (inputs, outs)]
    runtime.enqueue(desc[0], desc[1], [p for p, _, _ in inputs], [p for p, _, _ in outs],
                    [_contiguous(s) for _, s, _ in inputs], [_contiguous(s) for _, s, _ in outs], stream)

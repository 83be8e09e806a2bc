"""Simulated TensorRT engines (``STYLEFORGE_STUB_TRT_SIM=1``), executed by onnxruntime on the CPU over the
simulated GPU of the cuda stub (``STYLEFORGE_STUB_CUDA=sim``): lets the engine builder and the tensorrt
runner run end to end in tests. Not TensorRT: no tactics, no precision changes.

TensorRT rules it reproduces (and the runner must respect), from NvInfer.h / NvInferRuntime.h (10.x):

- build: a network with dynamic inputs needs at least one optimisation profile, and every profile must
  give min/opt/max for every dynamic input with min <= opt <= max and the static dimensions unchanged
  (``build_serialized_network`` returns None and logs an error otherwise); an ONNX node outside the
  default domain must resolve to a registered plugin creator (name = op_type, version and namespace from
  the node's ``plugin_version``/``plugin_namespace`` attributes), else the parser fails.
- deserialise: the engine's TensorRT version must equal this one (unless built version-compatible and
  the runtime allows host code), its compute capability must match the GPU (unless hardware-compatible:
  ampere_plus needs >= 8.0), and every plugin it uses must be registered; else ``None`` and an error.
- contexts: the first context of an engine implicitly selects profile 0 when no other context holds it;
  "each execution context in concurrent use must use a separate optimization profile", so
  ``set_optimization_profile_async`` fails for a profile another live context holds (dynamic engines);
  ``set_input_shape`` fails outside the selected profile; enqueue fails without a profile, with an input
  shape or a tensor address unset; a context used by two threads at once is an error (contexts are not
  thread-safe) — counted in ``SIM_STATS["concurrent_use"]``.
"""
from __future__ import annotations

import hashlib
import json
import threading

import numpy as np

import tensorrt as trt

MAGIC = b"SFSIMTRT"
SIM_STATS = {"concurrent_use": 0, "contexts": 0, "executions": 0, "builds": 0}
_ONNX_TYPES = {1: trt.DataType.FLOAT, 10: trt.DataType.HALF, 6: trt.DataType.INT32, 7: trt.DataType.INT64,
               9: trt.DataType.BOOL, 2: trt.DataType.UINT8, 3: trt.DataType.INT8}


def _log(logger, severity, msg):
    if logger is not None:
        logger.log(severity, msg)


def _cc():
    from cuda.bindings import runtime as rt

    err, prop = rt.cudaGetDeviceProperties(0)
    if int(err) != 0:
        raise trt.StubEngineSupportError("the simulated TensorRT needs the simulated GPU (STYLEFORGE_STUB_CUDA=sim)")
    return f"{prop.major}.{prop.minor}"


class Dims(tuple):
    pass


class _Tensor:
    def __init__(self, name, shape, dtype):
        self.name, self.shape, self.dtype = name, Dims(shape), dtype


class NetworkDefinition:
    def __init__(self, flags):
        self.flags = flags
        self.inputs: list[_Tensor] = []
        self.outputs: list[_Tensor] = []
        self.onnx = None
        self.plugins: list[str] = []

    @property
    def num_inputs(self):
        return len(self.inputs)

    @property
    def num_outputs(self):
        return len(self.outputs)

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]


class OnnxParser:
    def __init__(self, network, logger):
        self.network, self.logger, self.errors = network, logger, []

    @property
    def num_errors(self):
        return len(self.errors)

    def get_error(self, i):
        return self.errors[i]

    def parse(self, model: bytes, path=None) -> bool:
        import onnx

        m = onnx.load_from_string(bytes(model))
        dims = lambda vi: [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim]  # noqa: E731
        init = {i.name for i in m.graph.initializer}
        self.network.inputs = [_Tensor(v.name, dims(v), _ONNX_TYPES[v.type.tensor_type.elem_type])
                               for v in m.graph.input if v.name not in init]
        self.network.outputs = [_Tensor(v.name, dims(v), _ONNX_TYPES[v.type.tensor_type.elem_type]) for v in m.graph.output]
        registry = trt.get_plugin_registry()
        for node in m.graph.node:
            if node.domain in ("", "ai.onnx"):
                continue
            attrs = {a.name: a.s.decode() for a in node.attribute if a.type == onnx.AttributeProto.STRING}
            ns, ver = attrs.get("plugin_namespace", ""), attrs.get("plugin_version", "1")
            if registry.get_creator(node.op_type, ver, ns) is None:
                self.errors.append(f"In node {node.name} (importFallbackPluginImporter): UNSUPPORTED_NODE: "
                                   f"Assertion failed: creator && \"Plugin not found, are the plugin name, version, "
                                   f"and namespace correct?\" ({ns}::{node.op_type} v{ver})")
            else:
                why = _create_plugin_layer(node, f"{ns}::{node.op_type}")
                if why:
                    self.errors.append(f"In node {node.name} (importFallbackPluginImporter): plugin creation failed: {why}")
                self.network.plugins.append(f"{ns}::{node.op_type}")
        self.network.onnx = bytes(model)
        return not self.errors


def _create_plugin_layer(node, plugin_id: str) -> str:
    """What the ONNX parser does with a plugin node: fields from the node's attributes (FLOAT -> float32, INT -> int32,
    lists as arrays, strings as CHAR; the lookup keys left out), the creator's ``create_plugin`` (NVIDIA's plugin layer
    where its wheel is here). Returns why it failed, or ""."""
    import numpy as np
    import onnx

    from ._host import create

    fields = {}
    for a in node.attribute:
        if a.name in ("plugin_namespace", "plugin_version"):
            continue
        value = onnx.helper.get_attribute_value(a)
        if a.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS):
            fields[a.name] = np.atleast_1d(np.asarray(value, np.float32))
        elif a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS):
            fields[a.name] = np.atleast_1d(np.asarray(value, np.int32))
        elif a.type == onnx.AttributeProto.STRING:
            fields[a.name] = value.decode()
    try:
        create(plugin_id, fields)
    except Exception as e:  # noqa: BLE001  (the parser reports any failure of the Python plugin as a node error)
        return f"{type(e).__name__}: {e}"
    return ""


class IOptimizationProfile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, min, opt, max):  # noqa: A002
        self.shapes[name] = (tuple(min), tuple(opt), tuple(max))

    def get_shape(self, name):
        return [Dims(s) for s in self.shapes[name]]


class ITimingCache:
    """Serialised as JSON {trt, device, entries}; ``combine`` needs the exact TensorRT version."""

    def __init__(self, data: bytes):
        self.entries, self.trt, self.device = {}, trt.__version__, None
        if data:
            d = json.loads(bytes(data).decode())
            self.entries, self.trt, self.device = d["entries"], d["trt"], d["device"]

    def serialize(self):
        return json.dumps({"trt": self.trt, "device": self.device, "entries": self.entries}).encode()

    def combine(self, other, ignore_mismatch: bool) -> bool:
        if other.trt != self.trt:
            return False
        self.entries.update(other.entries)
        return True

    def reset(self):
        self.entries.clear()
        return True


class IBuilderConfig:
    def __init__(self):
        self.profiles: list[IOptimizationProfile] = []
        self.flags: set = set()
        self.builder_optimization_level = 3
        self.hardware_compatibility_level = trt.HardwareCompatibilityLevel.NONE
        self.pool_limits = {}
        self._cache = None

    def set_memory_pool_limit(self, pool, size):
        self.pool_limits[pool] = int(size)

    def set_flag(self, flag):
        self.flags.add(flag)

    def get_flag(self, flag):
        return flag in self.flags

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)
        return len(self.profiles) - 1

    @property
    def num_optimization_profiles(self):
        return len(self.profiles)

    def create_timing_cache(self, data: bytes):
        """A cache from bytes; bytes that are not a timing cache: an error logged and None (as TensorRT's
        createTimingCache returns nullptr on a blob it cannot deserialise)."""
        try:
            return ITimingCache(data)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            _log(None, trt.Logger.ERROR, "createTimingCache: the timing cache blob could not be deserialised")
            return None

    def set_timing_cache(self, cache, ignore_mismatch: bool) -> bool:
        dev = f"sm{_cc()}"
        if cache.device not in (None, dev) and not ignore_mismatch:
            return False
        cache.device = cache.device or dev
        self._cache = cache
        return True

    def get_timing_cache(self):
        return self._cache


class Builder:
    def __init__(self, logger):
        self.logger = logger

    def create_network(self, flags=0):
        return NetworkDefinition(flags)

    def create_builder_config(self):
        return IBuilderConfig()

    def create_optimization_profile(self):
        return IOptimizationProfile()

    def build_serialized_network(self, network, config):
        dynamic = [t for t in network.inputs if any(d < 0 for d in t.shape)]
        if dynamic and not config.profiles:
            _log(self.logger, trt.Logger.ERROR, "Network has dynamic or shape inputs, but no optimization profile has been defined.")
            return None
        for k, p in enumerate(config.profiles):
            for t in dynamic:
                if t.name not in p.shapes:
                    _log(self.logger, trt.Logger.ERROR, f"Optimization profile {k}: no shapes for input {t.name}")
                    return None
                mn, op, mx = p.shapes[t.name]
                if not (len(mn) == len(t.shape) and all(a <= b <= c for a, b, c in zip(mn, op, mx))
                        and all(d < 0 or a == d == c for d, a, c in zip(t.shape, mn, mx))):
                    _log(self.logger, trt.Logger.ERROR, f"Optimization profile {k}: invalid shapes for {t.name}")
                    return None
        if config._cache is not None:
            config._cache.entries[hashlib.sha256(network.onnx).hexdigest()[:16]] = "tactics"
        SIM_STATS["builds"] += 1
        header = {"trt": trt.__version__, "cc": _cc(),
                  "hw": int(config.hardware_compatibility_level),
                  "version_compatible": trt.BuilderFlag.VERSION_COMPATIBLE in config.flags,
                  "opt_level": config.builder_optimization_level, "plugins": network.plugins,
                  "inputs": [[t.name, list(t.shape), int(t.dtype)] for t in network.inputs],
                  "outputs": [[t.name, list(t.shape), int(t.dtype)] for t in network.outputs],
                  "profiles": [{n: [list(s) for s in v] for n, v in p.shapes.items()} for p in config.profiles]}
        h = json.dumps(header).encode()
        return MAGIC + len(h).to_bytes(8, "little") + h + network.onnx


class Runtime:
    def __init__(self, logger):
        self.logger = logger
        self.engine_host_code_allowed = False

    def deserialize_cuda_engine(self, data: bytes):
        data = bytes(data)
        if not data.startswith(MAGIC):
            _log(self.logger, trt.Logger.ERROR, "1: [runtime.cpp::parsePlan] Error Code 1: Serialization (not a plan)")
            return None
        n = int.from_bytes(data[8:16], "little")
        h = json.loads(data[16:16 + n])
        if h["trt"] != trt.__version__ and not (h["version_compatible"] and self.engine_host_code_allowed
                                                 and h["trt"].split(".")[0] == trt.__version__.split(".")[0]):
            _log(self.logger, trt.Logger.ERROR, f"Serialization assertion plan version {h['trt']} != {trt.__version__}")
            return None
        cc = _cc()
        hw = trt.HardwareCompatibilityLevel(h["hw"])
        ok_cc = (tuple(map(int, cc.split("."))) >= (8, 0)) if hw == trt.HardwareCompatibilityLevel.AMPERE_PLUS else h["cc"] == cc
        if not ok_cc:
            _log(self.logger, trt.Logger.ERROR, f"engine built for sm {h['cc']}, this device is sm {cc}")
            return None
        registry = trt.get_plugin_registry()
        for pid in h["plugins"]:
            ns, name = pid.split("::")
            if registry.get_creator(name, "1", ns) is None:
                _log(self.logger, trt.Logger.ERROR, f"getPluginCreator could not find plugin {name} version 1 in {ns}")
                return None
        return ICudaEngine(h, data[16 + n:])


class ICudaEngine:
    def __init__(self, header, onnx_bytes):
        self.h = header
        self.onnx = onnx_bytes
        self.io = [(n, s, trt.DataType(d), trt.TensorIOMode.INPUT) for n, s, d in header["inputs"]] + \
                  [(n, s, trt.DataType(d), trt.TensorIOMode.OUTPUT) for n, s, d in header["outputs"]]
        self.profile_users: dict[int, object] = {}
        self.lock = threading.Lock()
        self._session = None
        self.dynamic = any(d < 0 for _, s, _, m in self.io if m == trt.TensorIOMode.INPUT for d in s)

    def session(self):
        import onnxruntime as ort

        if self._session is None:
            if self.h["plugins"]:
                raise trt.StubEngineSupportError("the simulated TensorRT cannot execute plugin layers")
            self._session = ort.InferenceSession(self.onnx, providers=["CPUExecutionProvider"])
        return self._session

    @property
    def num_io_tensors(self):
        return len(self.io)

    def get_tensor_name(self, i):
        return self.io[i][0]

    def _t(self, name):
        for t in self.io:
            if t[0] == name:
                return t
        raise KeyError(name)

    def get_tensor_mode(self, name):
        return self._t(name)[3]

    def get_tensor_dtype(self, name):
        return self._t(name)[2]

    def get_tensor_shape(self, name):
        return Dims(self._t(name)[1])

    @property
    def num_optimization_profiles(self):
        return max(1, len(self.h["profiles"]))

    @property
    def hardware_compatibility_level(self):
        return trt.HardwareCompatibilityLevel(self.h["hw"])

    def get_tensor_profile_shape(self, name, index):
        if self.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
            return [Dims([-1])] * 3  # outputs: nbDims = -1 sentinel
        if not self.h["profiles"] or name not in self.h["profiles"][index]:
            # a static input: whether TensorRT answers with its dims or an nbDims = -1 sentinel is not documented;
            # the sentinel here keeps callers from relying on either (read static shapes with get_tensor_shape)
            return [Dims([-1])] * 3
        return [Dims(s) for s in self.h["profiles"][index][name]]

    def create_execution_context(self, strategy=None):
        SIM_STATS["contexts"] += 1
        return IExecutionContext(self)


class IExecutionContext:
    def __init__(self, engine: ICudaEngine):
        self.engine = engine
        self.profile = -1
        with engine.lock:
            if 0 not in engine.profile_users or not engine.dynamic:
                self.profile = 0
                engine.profile_users.setdefault(0, self)
        self.shapes: dict[str, tuple] = {}
        self.addresses: dict[str, int] = {}
        self._busy = threading.Lock()

    @property
    def active_optimization_profile(self):
        return self.profile

    def set_optimization_profile_async(self, index: int, stream) -> bool:
        e = self.engine
        if not 0 <= index < e.num_optimization_profiles:
            return False
        with e.lock:
            holder = e.profile_users.get(index)
            if e.dynamic and holder is not None and holder is not self:
                trt.Logger().log(trt.Logger.ERROR, f"Profile {index} has been chosen by another IExecutionContext. Use "
                                 "another profileIndex or destroy the IExecutionContext that use this profile.")
                return False
            if e.profile_users.get(self.profile) is self:
                del e.profile_users[self.profile]
            e.profile_users[index] = self
        self.profile = index
        self.shapes.clear()
        return True

    def set_input_shape(self, name, shape) -> bool:
        if self.profile < 0:
            return False
        shape = tuple(int(d) for d in shape)
        static = tuple(self.engine.get_tensor_shape(name))
        if all(d >= 0 for d in static):  # a static input takes exactly its own shape
            if shape != static:
                return False
            self.shapes[name] = shape
            return True
        mn, _, mx = self.engine.get_tensor_profile_shape(name, self.profile)
        if len(shape) != len(mn) or not all(a <= v <= b for a, v, b in zip(mn, shape, mx)):
            return False
        self.shapes[name] = shape
        return True

    def _output_shapes(self):
        key = tuple(sorted(self.shapes.items()))
        cache = self.engine.__dict__.setdefault("_shape_cache", {})
        if key not in cache:
            sess = self.engine.session()
            feeds = {n: np.zeros(s, trt.nptype(self.engine.get_tensor_dtype(n))) for n, s in self.shapes.items()}
            outs = sess.run(None, feeds)
            cache[key] = {o.name: tuple(v.shape) for o, v in zip(sess.get_outputs(), outs)}
        return cache[key]

    def get_tensor_shape(self, name):
        if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            return Dims(self.shapes.get(name, self.engine.get_tensor_shape(name)))
        inputs = [t[0] for t in self.engine.io if t[3] == trt.TensorIOMode.INPUT]
        if any(n not in self.shapes for n in inputs):
            return Dims(self.engine.get_tensor_shape(name))
        return Dims(self._output_shapes()[name])

    def set_tensor_address(self, name, ptr) -> bool:
        self.addresses[name] = int(ptr)
        return True

    def execute_async_v3(self, stream_handle) -> bool:
        if not self._busy.acquire(blocking=False):
            SIM_STATS["concurrent_use"] += 1
            return False
        try:
            inputs = [t for t in self.engine.io if t[3] == trt.TensorIOMode.INPUT]
            outputs = [t for t in self.engine.io if t[3] == trt.TensorIOMode.OUTPUT]
            if self.profile < 0 or any(t[0] not in self.shapes for t in inputs) or \
                    any(t[0] not in self.addresses for t in inputs + outputs):
                return False
            try:
                out_shapes = self._output_shapes()
            except trt.StubEngineSupportError:
                return False
            plan = ({n: (self.addresses[n], self.shapes[n], trt.nptype(d)) for n, _, d, _ in inputs},
                    {n: (self.addresses[n], out_shapes[n], trt.nptype(d)) for n, _, d, _ in outputs})
            sess = self.engine.session()

            def kernel():
                import ctypes

                feeds = {}
                for n, (ptr, shape, dt) in plan[0].items():
                    nbytes = int(np.prod(shape)) * np.dtype(dt).itemsize
                    feeds[n] = np.frombuffer((ctypes.c_ubyte * nbytes).from_address(ptr), dtype=dt).reshape(shape).copy()
                res = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
                for n, (ptr, shape, dt) in plan[1].items():
                    a = np.ascontiguousarray(res[n], dtype=dt)
                    ctypes.memmove(ptr, a.ctypes.data, a.nbytes)
                SIM_STATS["executions"] += 1

            from cuda.bindings import runtime as rt

            rt.enqueue(stream_handle, kernel)
            import time

            time.sleep(0.002)  # a kernel takes time: lets concurrent misuse of a context show up
            return True
        finally:
            self._busy.release()

    def __del__(self):
        e = self.engine
        with e.lock:
            for k, v in list(e.profile_users.items()):
                if v is self:
                    del e.profile_users[k]

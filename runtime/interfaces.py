"""Runtime interface specs: everything callers need to know about an interface, asked instead of compared.

An *interface* is what the runtime offers for a bundle (``stylizer``, ``wct``, ``generator``, ``translator``, the
bare ``graph``). Each one is a module of runtime/families/ that defines its :class:`RuntimeModel` subclass and
registers ONE :class:`InterfaceSpec` beside it::

    class TemplateSpec(InterfaceSpec):
        name = "template"
        config = TemplateConfig
        main_role = "transform"
        ...

    @register_interface(TemplateSpec())
    class TemplateModel(RuntimeModel): ...

The serve app, ``bench``, the CLI, ``convert``, ``import-onnx``, ``tiling add``, the Triton writer and the manifest
reader ask the spec (:func:`interface_spec`) what to do; no line outside runtime/families/ compares interface
names (benchmarks/interface_branches.py counts them; tests/test_interface_spec.py keeps the count at zero).
Specs are found by a lazy package scan of runtime/families/ (the first lookup imports its modules). Torch-free:
spec attributes are plain data; methods that need numpy or a model receive them.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .errors import StyleForgeError

_SPECS: dict[str, "InterfaceSpec"] = {}
#: the interface whose convert limits others fall back on (the least specific measured image-to-image graph)
FALLBACK_LIMITS = "translator"
_SCANNED = False


@dataclasses.dataclass
class GraphConfig:
    """Config of the bare ``graph`` interface: nothing beyond the graphs."""


@dataclasses.dataclass(frozen=True)
class TritonGraph:
    """One graph a Triton model repository serves: its role, image input (None: not an image), image output and
    the suffix of the Triton model name."""

    role: str
    image_input: str | None
    image_output: str
    suffix: str = ""


class InterfaceSpec:
    """What one runtime interface offers and how callers use it. Subclass it in runtime/families/<name>.py and
    register an instance with :func:`register_interface`; every default is what the bare ``graph`` interface does
    (raw ``run`` only: no endpoint, no CLI command, no bench call)."""

    #: the interface name a manifest's ``model.interface`` holds
    name: str = "graph"
    #: the dataclass of ``model.config`` for bundles of this interface
    config: type = GraphConfig
    #: how messages name it ("WCT")
    label: str = ""
    #: the training family a schema-1 manifest of this interface came from (its ``model.family``)
    legacy_family: str = ""
    #: the RuntimeModel subclass that runs it (set by :func:`register_interface`)
    model: type | None = None
    #: the ``styleforge`` commands that run it (stylize, translate, generate, texture); the first is its main one
    commands: tuple[str, ...] = ()
    #: HTTP verb: ``POST /v1/models/{name}/{endpoint}``; None: not served
    endpoint: str | None = None
    #: whether an HTTP request carries a style image upload beside the content image
    takes_style: bool = False
    #: the graph that does the work (bench session, PyTorch bench row, import-onnx role); None: the first graph
    main_role: str | None = None
    #: graph roles ``tiling add`` can tile (stats/tiled/probe graphs with shared norm statistics)
    tiled_roles: tuple[str, ...] = ()
    #: graphs a Triton model repository needs; empty: Triton export unsupported
    triton_graphs: tuple[TritonGraph, ...] = ()
    #: roles ``convert --precision int8`` quantises (None: every role it converts)
    int8_roles: tuple[str, ...] | None = None
    #: why convert leaves the other roles fp32 (a lineage note)
    int8_kept_note: str = "not quantised for this interface"
    #: whether int8 calibration needs images (False: feeds are synthesised, e.g. latents)
    calibration_needs_images: bool = True
    #: the graph whose session turns calibration images into extra feeds (WCT: ``encode_style``); None: none
    calibration_helper_role: str | None = None
    #: convert's image limits per precision: (Tolerance, basis); an interface without its own measurement gets the
    #: translator's limits (runtime/families/translator.py) with no basis of its own
    convert_limits: dict = {}
    #: the int8 recipe convert applies (export/convert/recipes.py: "image", "image-s2d", "wct-decoder")
    int8_recipe: str = "image"
    #: ``import-onnx``: (canonical input name, canonical output name); None: cannot be imported
    import_names: tuple[str, str] | None = None
    #: ``import-onnx``: what the main input is ("image": N×3×H×W, "latent": N×nz)
    main_input: str = "image"
    #: ``import-onnx``: whether the graph may have a style-vector input (``--style-vector``)
    takes_style_vector: bool = False
    #: the PyTorch bench row: "runner" (TorchRunner on ``main_role``), "exact" (the family's exact pipeline) or None
    eager_bench: str | None = "runner"

    # --- manifests ----------------------------------------------------------------------------------
    def upgrade_v1(self, cfg: dict, top: dict) -> tuple[str, dict]:
        """A schema-1 manifest's (method, model.config) for this interface; may pop fields off `top`."""
        return self.name, cfg

    # --- the model as a whole -----------------------------------------------------------------------
    def role(self, manifest, reverse: bool = False) -> str:
        """The graph role a call runs (`reverse`: the backward translator)."""
        return self.main_role or manifest.graphs[0].role

    def info(self, model) -> dict:
        """What ``/v1/models`` says about a loaded model beyond the common fields."""
        return {}

    # --- serving ------------------------------------------------------------------------------------
    def request_options(self, query: dict, model, int_param: Callable) -> dict:
        """The payload fields an HTTP request's query gives (`int_param(name, default, lo, hi)` reads an integer);
        raises serve's ApiError on a bad value."""
        return {}

    def batch_key(self, payload: dict):
        """What must be equal for two requests to share one graph run."""
        return (payload["image"].shape[:2], payload.get("reverse", False))

    def runs_alone(self, payload: dict) -> bool:
        """Whether a request always runs on its own (not batched), whatever its size."""
        return False

    def tile_role(self, payload: dict) -> str | None:
        """The role a large request would run in tiles, or None if this interface never tiles requests."""
        return None

    def upload_work(self, manifest, part: str, height: int, width: int, geo, params: dict):
        """The work (runtime/budget.py ``Work``) one uploaded image of a request makes, from its header size: `part`
        is ``image`` or ``style``, `geo` the ``Geometry`` of the role :meth:`tile_role` names, `params` the request's
        checked options. By default `geo`'s graph run on the image at its size (tiled where it tiles); an
        interface that resizes an image before running it counts the size it runs (never fewer pixels than run)."""
        from .budget import plan_work

        return plan_work(height, width, geo)

    def run_batch(self, model, payloads: list[dict], tiled: bool = False) -> list:
        """One graph run for a batch of HTTP requests (`tiled`: one large request, run in tiles)."""
        raise StyleForgeError(f"interface {self.name} cannot be served")

    def warm_up(self, model, image) -> None:
        """Run every graph once on `image` (H×W×3 uint8) so sessions exist before requests arrive."""
        for g in model.manifest.graphs:
            model.session(g.role)

    # --- bench --------------------------------------------------------------------------------------
    def bench_size(self, manifest, size: tuple[int, int]) -> tuple[int, int]:
        """The size a bench row at `size` runs at (a generator has one fixed size)."""
        return size

    def bench_fixed_size(self) -> bool:
        """Whether every bench size maps to one size (rows past the first are skipped)."""
        return False

    def bench_call(self, model, inputs: dict) -> Callable[[], Any]:
        """A zero-argument call ``bench`` times: inputs has "image", "style" (H×W×3 uint8) and "seed"."""
        raise StyleForgeError(f"bench: interface {self.name!r} has no image call to time")

    def imported_config(self, *, in_dims, out_dims, layout, lo, hi, num_styles, names):
        """``model.config`` for a graph ``import-onnx`` wraps: `in_dims`/`out_dims` of its main input and output,
        `layout` of the output, the value range [`lo`, `hi`], `num_styles` (style-vector width, else 1) and the
        (input, output) `names`; a one-line StyleForgeError when the graph cannot be this interface."""
        raise StyleForgeError(f"import-onnx cannot make a {self.name} bundle")

    # --- convert --------------------------------------------------------------------------------------
    def calibration_feeds(self, bundle, graph, images: list, fixed: dict, helper=None) -> list[dict] | None:
        """int8 calibration feeds for `graph`, or None for the default (each image on the graph's image input)."""
        return None

    def precision_limits(self, precision: str):
        """(image Tolerance, basis) that ``convert`` gives a `precision` variant's image outputs."""
        if precision in self.convert_limits:
            return self.convert_limits[precision]
        return interface_specs()[FALLBACK_LIMITS].convert_limits[precision][0], ""

    def quantises(self, role: str) -> bool:
        """Whether ``convert --precision int8`` quantises graph `role`."""
        return self.int8_roles is None or role in self.int8_roles


class StyleUploadSpec(InterfaceSpec):
    """An interface whose requests carry their own style image beside the content (WCT, arbitrary-style): each
    request runs alone, ``alpha`` from the query; warm-up stylizes an image by its own mirror."""

    takes_style = True

    def runs_alone(self, payload: dict) -> bool:
        """Always: each request carries its own style image."""
        return True

    def run_batch(self, model, payloads: list[dict], tiled: bool = False) -> list:
        """Each request on its own style."""
        return [model(p["image"], style=p["style"], alpha=p.get("alpha")) for p in payloads]

    def warm_up(self, model, image) -> None:
        """The image stylized by its own mirror."""
        model(image, style=image[::-1].copy())


def register_interface(spec: "InterfaceSpec | str", *, config: type | None = None):
    """Class decorator for a RuntimeModel subclass: `spec` (an :class:`InterfaceSpec` instance) describes the
    interface it runs. A bare name (``register_interface("x", config=C)``) makes a spec with the defaults."""
    if isinstance(spec, str):
        spec = type(f"{spec.title()}Spec", (InterfaceSpec,), {"name": spec, "config": config or GraphConfig})()

    def deco(cls):
        spec.model = cls
        _SPECS[spec.name] = spec
        cls.interface = spec.name
        cls.spec = spec
        return cls
    return deco


def load_interfaces() -> None:
    """Import runtime/families/ once (a package scan), registering every interface's spec."""
    global _SCANNED
    if not _SCANNED:
        from . import model  # noqa: F401  (registers the bare "graph" interface)
        from .discovery import import_children

        import_children(f"{__package__}.families")
        _SCANNED = True


def interface_specs() -> dict[str, InterfaceSpec]:
    """Every registered interface spec by name (scans runtime/families/ on first use)."""
    load_interfaces()
    return dict(_SPECS)


def find_interface(name: str) -> InterfaceSpec | None:
    """The spec of interface `name`, or None if no module registers it."""
    return interface_specs().get(name)


def interface_spec(name: str) -> InterfaceSpec:
    """The spec of interface `name`; an unknown name is a one-line StyleForgeError listing the known ones."""
    spec = find_interface(name)
    if spec is None:
        from .errors import unknown_name

        raise unknown_name("runtime interface", name, _SPECS)
    return spec


def require_command(model, command: str, bundle) -> None:
    """Refuse (one line) a loaded `model` whose interface `command` does not run, naming the command that does."""
    spec = model.spec
    if command in spec.commands:
        return
    wanted = [s.label or s.name for n, s in sorted(interface_specs().items()) if command in s.commands]
    hint = f" (use `styleforge {spec.commands[0]}`)" if spec.commands else ""
    raise StyleForgeError(f"{bundle}: a {spec.name!r} bundle; {command} needs a {' or '.join(wanted)} bundle{hint}")


def interfaces_with(predicate: Callable[[InterfaceSpec], Any]) -> list[str]:
    """Names of the interfaces whose spec satisfies `predicate` (``lambda s: s.endpoint``), sorted."""
    return sorted(n for n, s in interface_specs().items() if predicate(s))

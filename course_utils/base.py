"""What every method module shares: argument checks, the logits model, map normalizing and resizing,
mosaics, per-model caches, the step cap and the network probe.

This module imports no other module of ``course_utils`` (imports flow one way: base -> methods ->
plotting -> widgets; ``tests/test_repository.py`` checks it). Every public function of the library
that takes a model accepts a :class:`course_utils.models.CourseModel` or a ``keras.Model``
(:data:`ModelLike`); :func:`keras_model` turns either into the logits ``keras.Model`` the methods use.
"""

from __future__ import annotations

import math
import numbers
import os
import socket
import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

import numpy as np

if TYPE_CHECKING:
    import keras


class WrapsModel(Protocol):
    """Anything that carries its ``keras.Model`` as ``.model``: :class:`course_utils.models.CourseModel` is one.
    A protocol, not an import of ``models``, so that this module imports nothing of the course."""

    model: Any


#: A ``CourseModel`` (any :class:`WrapsModel`) or a ``keras.Model`` (Functional or Sequential, built, nested
#: backbones allowed).
ModelLike = Union[WrapsModel, "keras.Model"]
#: A class index, one index per image ``(N,)``, or a callable ``logits -> (N,)`` score.
Target = Union[int, np.ndarray, Callable]

_CACHES: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()
_PROBABILITY = ("softmax", "sigmoid")


def model_cache(model, name: str) -> dict:
    """A dict private to (``model``, ``name``) that lives as long as ``model``: compiled functions
    and sub-models are kept here so that sliders never rebuild or retrace them."""
    return _CACHES.setdefault(model, {}).setdefault(name, {})


def compiled_functions() -> list:
    """Every ``tf.function`` held in a :func:`model_cache` of a live model (for leak and retracing checks:
    ``sum(f.experimental_get_tracing_count() for f in compiled_functions())``)."""
    found = []
    for caches in list(_CACHES.values()):
        for cache in caches.values():
            found += [f for f in cache.values() if hasattr(f, "experimental_get_tracing_count")]
    return found


# ---- models ---------------------------------------------------------------------------------------------

def _activation_name(layer) -> str:
    """``"softmax"``/``"sigmoid"`` if ``layer`` ends in one, else ``""``."""
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", "") if fn is not None else ""
    if isinstance(layer, keras.layers.Activation) and isinstance(fn, str):
        name = fn
    return name if name in _PROBABILITY else ""


def _logits_twin(model, layer, kind: str):
    """``model`` with its last ``layer`` replaced by the same layer without the final ``kind`` activation."""
    import keras

    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        out = layer.input
    else:
        config = {**layer.get_config(), "activation": "linear", "name": f"{layer.name}_logits"}
        twin = type(layer).from_config(config)
        out = twin(layer.input)
        twin.set_weights(layer.get_weights())
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # the structure callers pass
    return keras.Model(inputs, out, name=f"{model.name}_logits")


def keras_model(model: ModelLike):
    """The ``keras.Model`` whose output the methods differentiate: **logits**.

    Takes a ``CourseModel`` (its ``.model``) or a ``keras.Model``. A model whose last layer applies a
    softmax or sigmoid is replaced (once, cached) by a twin that shares every layer and weight but
    outputs that layer's pre-activation logits; a warning says so. Raises ValueError for a subclassed
    model (no graph of layers to tap), a model never built on an input, or anything else.
    """
    import keras

    inner = getattr(model, "model", None)
    if inner is not None and not isinstance(model, keras.Model):  # a CourseModel
        model = inner
    if not isinstance(model, keras.Model):
        raise ValueError(f"model of type {type(model).__name__}: expected a course_utils CourseModel "
                         "(models.load_model) or a keras.Model")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        if isinstance(model, keras.Sequential):
            raise ValueError(f"model {model.name!r} is a Sequential model without a defined input: start it with "
                             "keras.Input(shape) (e.g. keras.Sequential([keras.Input((64, 64, 3)), ...])) so its "
                             "layers can be tapped")
        raise ValueError(f"model {model.name!r} is a subclassed keras.Model ({type(model).__name__}): it has no graph of "
                         "layers to tap. Build it with the functional API, inputs = keras.Input(shape); "
                         "keras.Model(inputs, outputs), or as a keras.Sequential starting with keras.Input")
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(f"model {model.name!r} has outputs {[tuple(o.shape) for o in model.outputs]}: expected one "
                         "(N, classes) output of class scores")
    cache = model_cache(model, "logits")
    if "model" not in cache:
        last = model.layers[-1]
        kind = _activation_name(last)
        if isinstance(last, keras.Model) and _activation_name(last.layers[-1]):
            raise ValueError(f"model {model.name!r} ends in the nested model {last.name!r}, whose last layer applies "
                             f"{_activation_name(last.layers[-1])}: rebuild it with logits outputs (keras.applications: "
                             "classifier_activation=None)")
        if kind:
            warnings.warn(f"model {model.name!r} outputs {kind} probabilities; the course scores logits, so its layer "
                          f"{last.name!r} is used without the {kind} (same weights)", stacklevel=3)
            cache["model"] = _logits_twin(model, last, kind)
        else:
            cache["model"] = model
    return cache["model"]


# ---- argument checks ------------------------------------------------------------------------------------

def check_x(model: ModelLike, x) -> np.ndarray:
    """``x`` as a float32 batch ``(N, H, W, C)`` that fits ``model``'s input, finite; ValueError otherwise."""
    model = keras_model(model)
    if np.asarray(x).dtype == np.uint8:
        raise ValueError("x of dtype uint8: expected preprocessed float inputs; pass images through "
                         "CourseModel.preprocess first (it takes uint8 or [0, 1] images)")
    x = np.asarray(x, np.float32)
    want = tuple(model.inputs[0].shape[1:])
    batch = f"a batch (N, {', '.join(str(w) for w in want)})"
    if x.ndim == 4 and len(x) == 0:
        raise ValueError(f"x of shape {x.shape}: an empty batch; expected {batch} with N >= 1")
    if x.ndim != 4 or any(w is not None and w != s for w, s in zip(want, x.shape[1:])):
        raise ValueError(f"x of shape {x.shape}: expected {batch} of preprocessed inputs (CourseModel.preprocess)")
    return check_finite(x, "x", "preprocessed inputs")


def check_finite(array, name: str, what: str = "numbers") -> np.ndarray:
    """``array`` as float32; ValueError counting its NaN and infinite values if it has any."""
    a = np.asarray(array)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} with {int(np.isnan(a).sum())} NaN and {int(np.isinf(a).sum())} infinite values: "
                         f"expected finite {what}")
    return a.astype(np.float32, copy=False)


def check_image_values(images, name: str = "images") -> np.ndarray:
    """``images`` (any shape) as float32 in [0, 1]: uint8 is scaled by 1/255; ValueError for NaN, infinite
    or out-of-range values (floats in 0-255, say)."""
    arr = np.asarray(images)
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr
    arr = check_finite(arr, name, "floats in [0, 1] or uint8 in [0, 255]")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} with values in [{arr.min():.3g}, {arr.max():.3g}]: expected floats in [0, 1] "
                         "or uint8 in [0, 255]")
    return arr


def check_vectors(vectors, name: str = "vectors", width: int | None = None, nonzero: bool = False) -> np.ndarray:
    """``vectors`` as float32 ``(N, C)``, N >= 1, finite (``width``: C must equal it; ``nonzero``: no row all
    zero, as directions need); ValueError otherwise."""
    v = np.asarray(vectors, np.float32)
    if v.ndim != 2 or len(v) == 0 or (width is not None and v.shape[1] != width):
        form = f"(N, {width})" if width is not None else "(N, C)"
        raise ValueError(f"{name} of shape {np.shape(vectors)}: expected {form}, one row per point")
    check_finite(v, name)
    zero = np.flatnonzero(~v.any(axis=1)) if nonzero else []
    if len(zero):
        raise ValueError(f"{name} rows {zero.tolist()[:10]} are all zero: a zero vector has no direction; drop them")
    return v


def _shown(value):
    """A NumPy scalar as the Python number it holds (``1.5``, not ``np.float64(1.5)``), for messages."""
    return value.item() if isinstance(value, np.generic) else value


def check_index(value, name: str, size: int, what: str = "index") -> int:
    """``value`` as an int in ``[0, size)``; a float with a whole value (``3.0``) is accepted."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not float(value).is_integer() \
            or not 0 <= value < size:
        raise ValueError(f"{name}={_shown(value)!r}: expected a whole-number {what} in [0, {size - 1}]")
    return int(value)


def check_target(target: Target, n: int, num_classes: int):
    """A callable, or class indices ``(n,)`` int64 with each in ``[0, num_classes)`` (whole floats accepted)."""
    if callable(target):
        return target
    t = np.broadcast_to(np.asarray(target), (n,)) if np.ndim(target) == 0 else np.asarray(target)
    ok = t.shape == (n,) and t.dtype != bool and (np.issubdtype(t.dtype, np.integer) or (
        np.issubdtype(t.dtype, np.floating) and np.isfinite(t).all() and (t == np.round(t)).all()))
    if not ok or (t < 0).any() or (t >= num_classes).any():
        raise ValueError(f"target={target!r}: expected a class index in [0, {num_classes - 1}] (or {n} of them, "
                         "one per image), or a callable logits -> (N,) score")
    return t.astype(np.int64)


def check_number(name: str, value, low: float | None = None, high: float | None = None, *, integer: bool = False,
                 low_open: bool = False) -> float:
    """``value`` as a finite number in the given range (``low_open``: strictly above ``low``); ValueError
    naming ``name``, the value and the range otherwise. ``integer=True`` also requires a whole number."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer())
    ok = ok and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high)
    if not ok:
        bound = f"{'>' if low_open else '>='} {low:g}" if low is not None else ""
        bound += (" and " if bound and high is not None else "") + (f"<= {high:g}" if high is not None else "")
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name}={_shown(value)!r}: expected {kind} {bound}".rstrip())
    return int(value) if integer else float(value)


# ---- maps -----------------------------------------------------------------------------------------------

def normalize_maps(maps: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale each map of ``(N, H, W)`` to [0, 1] by its own min and max; constant maps become 0 (never NaN)."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps of shape {maps.shape}: expected a batch of maps (N, H, W)")
    check_finite(maps, "maps", "maps")
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > eps, (maps - lo) / np.maximum(span, eps), 0.0).astype(np.float32)


def resize_map(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one ``(h, w)`` map to ``size`` ``(H, W)`` (half-pixel centres, as PIL and cv2)."""
    from PIL import Image

    if np.ndim(heatmap) != 2:
        raise ValueError(f"heatmap of shape {np.shape(heatmap)}: expected one map (h, w); pick one with maps[i]")
    img = Image.fromarray(np.asarray(heatmap, np.float32), mode="F")
    return np.asarray(img.resize((size[1], size[0]), Image.BILINEAR), np.float32)


def resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """:func:`resize_map` for a batch ``(N, h, w)`` -> ``(N, H, W)`` (returned as is if already that size)."""
    maps = np.asarray(maps, np.float32)
    if maps.shape[1:] == tuple(size):
        return maps
    return np.stack([resize_map(m, size) for m in maps])


def tile(maps: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Mosaic of ``maps`` ``(n, h, w)`` or ``(n, h, w, 3)`` in rows of ``ncols``, ``pad`` pixels apart.

    One array drawn by one ``imshow`` is ~20x faster than a grid of axes, which keeps widgets snappy.
    """
    maps = np.asarray(maps)
    if not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols={ncols!r}: expected a whole number >= 1")
    n, h, w = maps.shape[:3]
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, *maps.shape[3:]), fill, np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = maps[i]
    return out


BATCH_PIXELS = 64 * 64 * 64  # a batch of 64 scenes of 64x64 pixels, or of 5 photos of 224x224


def batch_for(x: np.ndarray, batch_size: int | None, pixels: int = BATCH_PIXELS) -> int:
    """``batch_size`` checked, or when it is None as many images of ``x`` ``(N, H, W, C)`` as hold
    ``pixels`` pixels (64 at 64x64, 5 at 224x224). A pass keeps every layer's activations of its
    batch, so memory grows with batch x pixels: EfficientNet-Lite0 needs about 80 MB per 224 px image."""
    if batch_size is None:
        return max(1, pixels // (int(x.shape[1]) * int(x.shape[2])))
    return check_number("batch_size", batch_size, 1, integer=True)


def per_image_chunks(x: np.ndarray, copies: int, batch_size: int):
    """Slices of ``x`` holding about ``batch_size`` rows once each image is expanded ``copies`` times
    (SmoothGrad's noisy copies, Integrated Gradients' path), so memory stays bounded however many
    images are explained."""
    per = max(1, batch_size // copies)
    return (slice(i, i + per) for i in range(0, len(x), per))


# ---- loops and the network ------------------------------------------------------------------------------

def capped_steps(steps: int) -> int:
    """``steps``, capped by ``COURSE_MAX_STEPS`` in the environment (fast test runs of the notebooks)."""
    cap = os.environ.get("COURSE_MAX_STEPS")
    return min(steps, int(cap)) if cap else steps


NETWORK_HOST = ("storage.googleapis.com", 443)  # where keras.applications weights live
NETWORK_TIMEOUT_S = 4.0


def network_available(host: tuple[str, int] = NETWORK_HOST, timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """True if a TCP connection to ``host`` opens within ``timeout`` seconds in total (DNS included).

    Runs in a daemon thread, so a hanging DNS lookup cannot hang the caller. ``COURSE_OFFLINE=1``
    in the environment answers False at once.
    """
    if os.environ.get("COURSE_OFFLINE") == "1":
        return False
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


__all__ = ["ModelLike", "Target", "model_cache", "compiled_functions", "keras_model", "check_x", "check_index",
           "check_target", "check_number", "check_finite", "check_vectors", "check_image_values", "normalize_maps",
           "BATCH_PIXELS", "batch_for", "per_image_chunks", "resize_map", "resize_maps", "tile", "capped_steps",
           "network_available"]

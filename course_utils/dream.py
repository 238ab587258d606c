"""Deep Dream: gradient ascent on a weighted mix of layer activations of a starting image.

Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going Deeper into Neural Networks" (Google Research
blog; code: github.com/google/deepdream) and the TensorFlow tutorial
https://www.tensorflow.org/tutorials/generative/deepdream. The objective is

    sum over layers of weight * mean(acts)      (or mean(acts ** 2) with ``squared=True``),

maximized by normalized gradient steps on the pixels, with three tricks:

- **octaves**: dream at successive scales (smallest first, each ``octave_scale`` ~1.3-1.4 larger);
  the *detail* the dream added at one scale is upscaled and added back to the next, larger copy of
  the original (detail re-injection), so patterns grow at every scale;
- **random roll**: before each step the image is shifted by a random offset (``tf.roll``) and the
  gradient rolled back, which hides tile seams and acts as jitter;
- **tiling**: the gradient of a large image is computed tile by tile, so memory stays bounded.

The model is cut into a *trunk* (:func:`trunk_model`) whose input is ``keras.Input((None, None, 3))``
and that reuses the trained layers up to the dream layers: the convolutional part of a network works
on any image size, so the bundled 64x64 models dream on 224x224 photos. The gradient of a tile is a
``tf.function`` with an ``input_signature`` of unknown height and width, compiled once per (model,
layers) (:class:`Dreamer`): image sizes, tiles, octaves and weights never retrace it.
Introduced in notebooks/04_deep_dream.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from course_utils.layers import conv_layers, find_layer, split_paths
from course_utils.base import ModelLike, capped_steps, check_image_values, check_number, keras_model, model_cache
from course_utils.models import course_model

EPS = 1e-8  # in the gradient normalization: an all-zero gradient leaves the image unchanged


# ---- the trunk: the model's layers on an image of any size ----------------------------------------------------

def _prefixed(head: str, outs: dict) -> dict:
    return {f"{head}/{k}": v for k, v in outs.items()}


def _outer_input(model, layer):
    """The tensor that feeds ``layer`` (a nested model) inside ``model``'s graph."""
    for k, node in enumerate(layer._inbound_nodes):
        if f"{id(layer)}_ib-{k}" in getattr(model, "_nodes", ()):
            return node.input_tensors[0]
    return layer._inbound_nodes[0].input_tensors[0]


def _trunk_outputs(model, paths: Sequence[str], x) -> dict:
    """``{path: tensor}``: ``model``'s layers called on the symbolic tensor ``x`` up to ``paths`` only
    (the dense head, which needs a fixed input size, is never called)."""
    import keras

    direct, nested = split_paths(paths)
    if isinstance(model, keras.Sequential):
        recorded, wanted = {}, set(paths)
        for layer in model.layers:
            if wanted <= set(recorded):
                break
            if layer.name in nested:
                recorded.update(_prefixed(layer.name, _trunk_outputs(layer, nested[layer.name], x)))
                if wanted <= set(recorded):
                    break
            x = layer(x)
            if layer.name in direct:
                recorded[layer.name] = x
        return recorded
    heads = list(nested)
    targets = [model.get_layer(p).output for p in direct] + [_outer_input(model, model.get_layer(h)) for h in heads]
    sub = keras.Model(model.inputs, targets)  # the graph pruned to what the dream layers need
    outs = keras.models.clone_model(sub, input_tensors=[x], clone_function=lambda layer: layer).outputs
    recorded = dict(zip(direct, outs[:len(direct)]))
    for head, t in zip(heads, outs[len(direct):]):
        recorded.update(_prefixed(head, _trunk_outputs(model.get_layer(head), nested[head], t)))
    return recorded


def _check_layers(model, layers: Sequence[str]) -> None:
    if not layers:
        raise ValueError(f"layers={list(layers)!r}: expected at least one layer, e.g. {conv_layers(model)[-2:]}")
    for p in layers:
        layer = find_layer(model, p)  # ValueError listing the valid conv layers, closest first
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):  # a layer never called in a graph
            shape = None
        if shape is not None and len(shape) != 4:
            raise ValueError(f"layer {p!r} has output shape {shape}: Deep Dream needs a layer with spatial output "
                             f"(N, h, w, channels), e.g. one of the conv layers {conv_layers(model)[-4:]}")


def trunk_model(model: ModelLike, layers: str | Sequence[str]):
    """Cached ``keras.Model``: images of any size ``(N, None, None, 3)`` -> ``[acts of each layer]``.

    Built on ``keras.Input((None, None, 3))`` by calling ``model``'s own layers (shared weights, nothing
    copied) up to ``layers`` (paths as in :func:`course_utils.layers.find_layer`, nested models
    resolved); the same object for the same (model, layers).
    """
    import keras

    model = keras_model(model)
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    _check_layers(model, layers)
    per_model = model_cache(model, "trunks")
    if layers not in per_model:
        dtype = model.inputs[0].dtype
        inputs = keras.Input((None, None, model.inputs[0].shape[-1]), dtype=dtype, name="image_any_size")
        outs = _trunk_outputs(model, layers, inputs)
        per_model[layers] = keras.Model(inputs, [outs[p] for p in layers], name=f"{model.name}_trunk")
    return per_model[layers]


def _works_at(trunk, h: int, w: int) -> bool:
    """True if ``trunk`` gives non-empty feature maps for an ``(h, w)`` input (shape inference only)."""
    import keras

    try:
        specs = trunk.compute_output_spec(keras.KerasTensor((1, h, w, 3)))
    except (ValueError, TypeError):
        return False
    specs = specs if isinstance(specs, (list, tuple)) else [specs]
    return all(d is None or d > 0 for s in specs for d in s.shape[1:3])


def min_side(trunk, limit: int = 1024) -> int:
    """The smallest square input side for which every output of ``trunk`` is non-empty."""
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _works_at(trunk, mid, mid) else (mid + 1, hi)
    return lo


# ---- the compiled step ----------------------------------------------------------------------------------------

def _weights_of(layers, default: Mapping[str, float]) -> dict[str, float]:
    """``layers`` as ``{path: weight}``: None -> ``default``, a name or list -> weight 1 each."""
    if layers is None:
        return dict(default)
    if isinstance(layers, str):
        return {layers: 1.0}
    if isinstance(layers, Mapping):
        bad = {k: v for k, v in layers.items() if not np.isfinite(v)}
        if bad:
            raise ValueError(f"layer weights {bad}: expected finite numbers")
        return {k: float(v) for k, v in layers.items()}
    return {p: 1.0 for p in layers}


def tile_grid(h: int, w: int, tile_size: int) -> tuple[int, int]:
    """Tile height and width for an ``(h, w)`` image: as few tiles as keep each side <= ``tile_size``,
    all of nearly equal size (no thin leftover tile)."""
    return math.ceil(h / math.ceil(h / tile_size)), math.ceil(w / math.ceil(w / tile_size))


def octave_sizes(h: int, w: int, octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """``(height, width)`` of each octave, smallest first, the last one ``(h, w)``."""
    return [(max(1, round(h / octave_scale ** k)), max(1, round(w / octave_scale ** k)))
            for k in reversed(range(octaves))]


class Dreamer:
    """The Deep Dream step of one (model, layers), compiled once.

    The gradient and the objective are ``tf.function`` s whose input signature is an image or tile
    ``(None, None, 3)`` plus the layer weights as a tensor: image sizes, octaves, tiles and weights never
    retrace them (``tracing_count`` stays 2). :meth:`step` loops over the tiles. Get one with
    :func:`dreamer` (cached per model and layers).
    """

    def __init__(self, cm: ModelLike, layers: Sequence[str]):
        cm = course_model(cm)
        import tensorflow as tf

        self.cm, self.layers = cm, tuple(layers)
        self.trunk = trunk_model(cm.model, self.layers)
        self._min_side: int | None = None
        self._ok_sizes: set[tuple[int, int]] = set()
        n = len(self.layers)

        def score(images, weights, squared):
            """sum_l weights[l] * mean(acts_l (** 2)) for a batch of one image (N, h, w, 3) in [0, 1]."""
            acts = self.trunk(cm.preprocess_tensor(images), training=False)
            acts = acts if isinstance(acts, (list, tuple)) else [acts]
            means = [tf.cond(squared, lambda a=a: tf.reduce_mean(tf.square(a)), lambda a=a: tf.reduce_mean(a))
                     for a in acts]
            return tf.reduce_sum(weights * tf.stack(means))

        signature = [tf.TensorSpec((None, None, 3), tf.float32),  # an image or tile of any height and width
                     tf.TensorSpec((n,), tf.float32), tf.TensorSpec((), tf.bool)]  # layer weights, squared

        @tf.function(input_signature=signature)
        def objective(image, weights, squared):
            return score(image[None], weights, squared)

        @tf.function(input_signature=signature)
        def gradient(patch, weights, squared):
            """(d score / d patch, score) for one image or tile (h, w, 3)."""
            with tf.GradientTape() as tape:
                tape.watch(patch)
                value = score(patch[None], weights, squared)
            return tape.gradient(value, patch), value

        self._objective, self._gradient = objective, gradient
        _trace_quietly(objective, gradient)

    @property
    def tracing_count(self) -> int:
        """How often the gradient and the objective were traced: 2 (at construction), whatever sizes and
        weights follow."""
        return self._gradient.experimental_get_tracing_count() + self._objective.experimental_get_tracing_count()

    def min_side(self) -> int:
        """Smallest image (and tile) side the trunk accepts."""
        if self._min_side is None:
            self._min_side = min_side(self.trunk)
        return self._min_side

    def check_size(self, h: int, w: int, what: str) -> None:
        if (h, w) in self._ok_sizes:
            return
        if not _works_at(self.trunk, h, w):
            raise ValueError(f"{what} is {h}x{w} px: too small for {self.cm.name} up to {list(self.layers)}, "
                             f"every side must be at least {self.min_side()} px (use fewer octaves, a smaller "
                             f"octave_scale, a larger tile_size or a larger image)")
        self._ok_sizes.add((h, w))

    def _weights(self, weights) -> "np.ndarray":
        w = np.asarray(weights, np.float32).reshape(-1)
        if w.shape != (len(self.layers),) or not np.isfinite(w).all():
            raise ValueError(f"weights {list(np.ravel(weights))}: expected {len(self.layers)} finite numbers, one "
                             f"per layer of {list(self.layers)}")
        return w

    def objective(self, image: np.ndarray, weights, squared: bool = False) -> float:
        """The dream objective of one image ``(H, W, 3)`` in [0, 1], whole (no tiles, no roll)."""
        return float(self._objective(np.asarray(image, np.float32), self._weights(weights), bool(squared)))

    def step(self, image, weights, squared: bool = False, step_size: float = 0.005, shift=(0, 0),
             tile_size: int = 512):
        """One normalized gradient-ascent step on ``image`` ``(H, W, 3)``: roll by ``shift``, gradient tile
        by tile, roll back, divide by its mean magnitude. Returns ``(new image, score averaged over tiles)``
        as ``(numpy (H, W, 3) float32, float)``."""
        import tensorflow as tf

        weights, squared = tf.constant(self._weights(weights)), tf.constant(bool(squared))
        image, shift = np.asarray(image, np.float32), tuple(int(s) for s in shift)
        rolled = np.roll(image, shift, axis=(0, 1))  # random roll: tile seams and edges move every step
        h, w = image.shape[:2]
        th, tw = tile_grid(h, w, tile_size)
        rows, values = [], []
        for y in range(0, h, th):  # tiles: memory bounded by the tile size
            row = []
            for x in range(0, w, tw):
                g, value = self._gradient(rolled[y:y + th, x:x + tw], weights, squared)
                row.append(g.numpy())
                values.append(float(value))
            rows.append(np.concatenate(row, axis=1))
        grads = np.roll(np.concatenate(rows, axis=0), (-shift[0], -shift[1]), axis=(0, 1))
        grads /= np.abs(grads).mean() + EPS  # normalized step; an all-zero gradient changes nothing
        return np.clip(image + step_size * grads, 0.0, 1.0), float(np.mean(values))


def _trace_quietly(*functions) -> None:
    """Trace each ``tf.function`` now (its input signature allows no other trace). TF counts the
    traces of all dreamers together and warns of "retracing" after five, although each traces once:
    that one warning is silenced here; a real retrace would still warn later."""
    import logging

    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        for fn in functions:
            fn.get_concrete_function()
    finally:
        logger.setLevel(level)


def dreamer(cm: ModelLike, layers: Sequence[str]) -> Dreamer:
    """The cached :class:`Dreamer` of ``cm`` and ``layers`` (a tuple of paths)."""
    cm = course_model(cm)
    key = (tuple(layers), cm.spec.preprocess)
    per_model = model_cache(cm.model, "dreamers")
    if key not in per_model:
        per_model[key] = Dreamer(cm, key[0])
    return per_model[key]


# ---- the loop -------------------------------------------------------------------------------------------------

@dataclass
class DreamResult:
    """What :func:`dream` returns.

    ``image`` ``(H, W, 3)`` in [0, 1]; ``octaves``: the image at the end of each octave, smallest
    first (the progression); ``sizes``: their ``(height, width)``; ``history``: the objective at each
    step (averaged over tiles, all octaves in a row); ``before``/``after``: the objective of the
    starting and the final image at full size; ``layers``: the ``{layer: weight}`` used.
    """

    image: np.ndarray
    octaves: list[np.ndarray]
    sizes: list[tuple[int, int]]
    history: np.ndarray
    before: float
    after: float
    layers: dict[str, float] = field(default_factory=dict)


def _check_image(image) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[-1] != 3 or min(arr.shape[:2]) < 1:
        raise ValueError(f"image of shape {np.shape(image)}: expected one RGB image (H, W, 3) or (1, H, W, 3)")
    return check_image_values(arr, "image")


def _resize(image, size: tuple[int, int]):
    import tensorflow as tf

    down = size[0] < image.shape[0] or size[1] < image.shape[1]
    return tf.image.resize(image, size, method="bilinear", antialias=down)


def dream(cm: ModelLike, image: np.ndarray, layers: str | Sequence[str] | Mapping[str, float] | None = None, steps: int = 20,
          octaves: int = 4, octave_scale: float = 1.4, step_size: float = 0.005, squared: bool = False,
          tile_size: int = 512, roll: bool = True, seed: int = 0, progress: bool = True) -> DreamResult:
    """Deep Dream ``image`` ``(H, W, 3)`` in [0, 1] (any size, uint8 accepted) with ``cm``.

    Args:
        layers: a layer path, a list of paths (weight 1 each) or ``{path: weight}``; None: ``cm.dream_layers``.
        steps: normalized gradient steps per octave (capped by ``COURSE_MAX_STEPS``).
        octaves: number of scales, ``octave_scale`` (> 1, typically 1.3-1.4) apart; 1 = single scale.
        step_size: pixel change per step (image in [0, 1]): the gradient divided by its mean magnitude.
        squared: maximize the mean of squared activations (the original Caffe objective, L2) instead.
        tile_size: largest tile side for the gradient; ``roll``: random shift before each step.
        seed: seeds the rolls (the result is deterministic for a seed).
    Returns: a :class:`DreamResult` (final image, progression across octaves, objective history).
    """
    cm = course_model(cm)
    from tqdm.auto import tqdm

    image = _check_image(image)
    steps = check_number("steps", steps, 1, integer=True)
    octaves = check_number("octaves", octaves, 1, 12, integer=True)
    octave_scale = check_number("octave_scale", octave_scale, 1.0, 4.0, low_open=True)
    step_size = check_number("step_size", step_size, 0.0, 1.0, low_open=True)
    tile_size = check_number("tile_size", tile_size, 1, integer=True)
    seed = check_number("seed", seed, 0, integer=True)
    weights = _weights_of(layers, cm.dream_layers)
    d = dreamer(cm, list(weights))
    w = np.array(list(weights.values()), np.float32)
    h0, w0 = image.shape[:2]
    sizes = octave_sizes(h0, w0, octaves, octave_scale)
    for k, size in enumerate(sizes):
        d.check_size(*size, what=f"octave {k + 1} of {octaves} (image {h0}x{w0}, octave_scale={octave_scale:g})")
        tile = tile_grid(*size, tile_size)
        smallest = tuple(n - (math.ceil(n / t) - 1) * t for n, t in zip(size, tile))  # the last row/column of tiles
        d.check_size(*smallest, what=f"the smallest tile of octave {k + 1} (tile_size={tile_size})")
    steps = capped_steps(steps)
    rng = np.random.default_rng(seed)
    base = np.asarray(image, np.float32)
    pyramid = [base] + [np.asarray(_resize(base, s)) for s in reversed(sizes[:-1])]  # large -> small
    detail = np.zeros_like(pyramid[-1])
    progression, history = [], []
    bar = tqdm(total=steps * octaves, desc="deep dream", disable=not progress, leave=False)
    for octave_base in reversed(pyramid):  # small -> large
        h, w_ = octave_base.shape[:2]
        if detail.shape[:2] != (h, w_):
            detail = np.asarray(_resize(detail, (h, w_)))  # detail re-injection: what the dream added so far
        current = np.clip(octave_base + detail, 0.0, 1.0)
        for _ in range(steps):
            shift = rng.integers(0, [h, w_]) if roll else (0, 0)
            current, value = d.step(current, w, squared, step_size, shift, tile_size)
            history.append(float(value))
            bar.update()
        detail = current - octave_base
        progression.append(current)
    bar.close()
    return DreamResult(progression[-1], progression, [tuple(p.shape[:2]) for p in progression], np.array(history),
                       d.objective(image, w, squared), d.objective(progression[-1], w, squared), weights)

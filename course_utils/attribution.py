"""Which input pixels matter for a class: the gradient (saliency) family.

All methods score the **logit** of the target (Simonyan et al. 2013: the softmax couples classes) and
take model inputs ``x`` ``(N, H, W, 3)`` (``CourseModel.preprocess`` output). A ``target`` is a class
index, one index per image, or a callable ``logits -> (N,)`` score. Maps are ``(N, H, W)`` normalized
per image to [0, 1] with an epsilon: an all-zero gradient gives an all-zero map, never NaN.

- :func:`vanilla_saliency`  Simonyan, Vedaldi & Zisserman 2013, arXiv:1312.6034
- :func:`smoothgrad`        Smilkov et al. 2017, arXiv:1706.03825
- :func:`integrated_gradients` Sundararajan, Taly & Yan 2017, arXiv:1703.01365
- :func:`guided_backprop`   Springenberg et al. 2014, arXiv:1412.6806

Introduced in notebooks/01_saliency_maps.ipynb.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from course_utils.base import (BATCH_PIXELS, ModelLike, Target, batch_for, check_target, check_x, keras_model,
                               model_cache, normalize_maps, per_image_chunks)


def score(logits, target):
    """The score to differentiate: ``logits[i, target[i]]``, or ``target(logits)`` for a callable."""
    import tensorflow as tf

    if callable(target):
        return target(logits)
    return tf.gather(logits, target, axis=1, batch_dims=1)


def _gradient(model, xb, tb):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(xb)
        s = score(model(xb, training=False), tb)
    return tape.gradient(s, xb)


def _compiled_gradient(model, guided: bool = False):
    """One ``tf.function`` per model (any batch size), so repeated calls and sliders never retrace. The guided
    one is traced at once inside :func:`guided_relus`: its graph keeps the guided rule after the swap ends."""
    import tensorflow as tf

    cache = model_cache(model, "gradient")
    key = "guided" if guided else "fn"
    if key not in cache:
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        fn = tf.function(lambda xb, tb: _gradient(model, xb, tb),
                         input_signature=[spec, tf.TensorSpec((None,), tf.int64)])
        if guided:
            with guided_relus(model):
                fn.get_concrete_function()
        cache[key] = fn
    return cache[key]


def input_gradients(model: ModelLike, x: np.ndarray, target: Target, batch_size: int | None = None,
                    eager: bool = False, guided: bool = False) -> np.ndarray:
    """``d score / d x`` ``(N, H, W, 3)`` for inputs ``x``, in batches of ``batch_size`` (default:
    :func:`~course_utils.base.batch_for`, 64 scenes or 5 photos); ``guided=True`` back-propagates every ReLU
    with the guided rule (:func:`guided_relus`).

    Class targets run through a cached ``tf.function`` (traced on the first call: EfficientNet-Lite0 about
    3 s); callables, and ``eager=True``, run eagerly (no trace, slower passes)."""
    import tensorflow as tf

    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size)
    eager = eager or callable(target)
    fn = _gradient if eager else (lambda m, xb, tb: _compiled_gradient(m, guided)(xb, tb))
    grads = []
    with guided_relus(model) if guided and eager else contextlib.nullcontext():
        for i in range(0, len(x), batch_size):
            tb = target if callable(target) else tf.constant(target[i:i + batch_size])
            grads.append(fn(model, tf.constant(x[i:i + batch_size]), tb).numpy())
    return np.concatenate(grads)


def to_map(grads: np.ndarray, reduce: str = "max_abs") -> np.ndarray:
    """Reduce input-shaped attributions ``(N, H, W, 3)`` to normalized maps ``(N, H, W)``:
    ``"max_abs"`` (Simonyan et al.), ``"abs_sum"`` or ``"sum"`` (signed, clipped at 0 after)."""
    if np.ndim(grads) != 4:
        raise ValueError(f"grads of shape {np.shape(grads)}: expected input-shaped attributions (N, H, W, channels)")
    if reduce == "max_abs":
        m = np.abs(grads).max(-1)
    elif reduce == "abs_sum":
        m = np.abs(grads).sum(-1)
    elif reduce == "sum":
        m = np.maximum(grads.sum(-1), 0)
    else:
        raise ValueError(f"reduce={reduce!r}: expected 'max_abs', 'abs_sum' or 'sum'")
    return normalize_maps(m)


def vanilla_saliency(model: ModelLike, x, target: Target) -> np.ndarray:
    """``max_c |d logit / d x|``, per image normalized ``(N, H, W)``."""
    return to_map(input_gradients(model, x, target))


def _noisy_copies(x: np.ndarray, samples: int, noise: float, seed: int, batch_size: int):
    """``(part, noisy (n, samples, H, W, 3))`` per slice of ``x``: SmoothGrad's noisy copies, noise std =
    ``noise`` times each input's value range, drawn in order from one generator seeded ``seed``."""
    if samples < 1:
        raise ValueError(f"samples={samples!r}: expected >= 1")
    rng = np.random.default_rng(seed)
    for part in per_image_chunks(x, samples, batch_size):
        xp = x[part]
        sigma = noise * (xp.max(axis=(1, 2, 3), keepdims=True) - xp.min(axis=(1, 2, 3), keepdims=True))
        yield part, xp[:, None] + sigma[:, None] * rng.standard_normal((len(xp), samples, *x.shape[1:]), np.float32)


def _copy_gradients(model, noisy: np.ndarray, target, part, batch_size: int) -> np.ndarray:
    """Input gradients of copies ``(n, k, H, W, 3)`` of the images ``part``, same shape."""
    t = target if callable(target) else np.repeat(target[part], noisy.shape[1])
    return input_gradients(model, noisy.reshape(-1, *noisy.shape[2:]), t, batch_size).reshape(noisy.shape)


def smoothgrad(model: ModelLike, x, target: Target, samples: int = 20, noise: float = 0.15, seed: int = 0,
               batch_size: int | None = None, return_grads: bool = False) -> np.ndarray:
    """Average of the gradients of ``samples`` noisy copies of each input (noise std = ``noise`` times
    the input's value range). The copies go through the model in batches of ``batch_size`` (default:
    128 scenes of 64 px, 10 photos of 224 px)."""
    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size, 2 * BATCH_PIXELS)
    grads = np.empty_like(x)
    for part, noisy in _noisy_copies(x, samples, noise, seed, batch_size):
        grads[part] = _copy_gradients(model, noisy, target, part, batch_size).mean(1)
    return grads if return_grads else to_map(grads)


def _baseline(baseline, x: np.ndarray) -> np.ndarray:
    """``baseline`` (None: zeros) broadcast to ``x``'s shape, or a ValueError naming both shapes."""
    if baseline is None:
        return np.zeros_like(x)
    try:
        return np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    except ValueError:
        raise ValueError(f"baseline of shape {np.shape(baseline)}: expected x's shape {x.shape} or one input "
                         f"{x.shape[1:]}") from None


def integrated_gradients(model: ModelLike, x, target: Target, baseline: np.ndarray | None = None, steps: int = 32,
                         batch_size: int | None = None) -> np.ndarray:
    """Attributions ``(N, H, W, 3)`` = ``(x - baseline) * mean of gradients along the straight path``
    (trapezoidal rule, ``steps`` intervals). Their sum approximates ``score(x) - score(baseline)``
    (completeness; check it with :func:`completeness_gap`). ``baseline`` defaults to zeros in x-space.
    The path images go through the model ``batch_size`` at a time (default as :func:`smoothgrad`)."""
    model = keras_model(model)
    x = check_x(model, x)
    if steps < 1:
        raise ValueError(f"steps={steps!r}: expected >= 1")
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size, 2 * BATCH_PIXELS)
    base = _baseline(baseline, x)
    alphas = np.linspace(0, 1, steps + 1, dtype=np.float32)[None, :, None, None, None]
    attributions = np.empty_like(x)
    for part in per_image_chunks(x, steps + 1, batch_size):
        path = base[part, None] + alphas * (x[part] - base[part])[:, None]  # (n, steps + 1, H, W, 3)
        t = target if callable(target) else np.repeat(target[part], steps + 1)
        grads = input_gradients(model, path.reshape(-1, *x.shape[1:]), t, batch_size).reshape(path.shape)
        attributions[part] = (x[part] - base[part]) * (grads[:, :-1] + grads[:, 1:]).mean(1) / 2
    return attributions


def completeness_gap(model: ModelLike, x, target: Target, attributions: np.ndarray, baseline: np.ndarray | None = None,
                     batch_size: int | None = None) -> np.ndarray:
    """Relative error ``|sum(attr) - (score(x) - score(baseline))| / |score(x) - score(baseline)|`` per image,
    the scores ``batch_size`` images a pass (default :func:`~course_utils.base.batch_for`: an eager pass over
    all of them would keep their memory, 1.7 GB for 24 photos on EfficientNet-Lite0)."""
    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    if np.shape(attributions) != x.shape:
        raise ValueError(f"attributions of shape {np.shape(attributions)}: expected x's shape {x.shape} "
                         "(integrated_gradients output)")
    base = _baseline(baseline, x)
    size = batch_for(x, batch_size)

    def scores(images):
        return np.concatenate([np.asarray(score(model(images[i:i + size], training=False),
                                                target if callable(target) else target[i:i + size]))
                               for i in range(0, len(images), size)])

    diff = scores(x) - scores(base)
    return np.abs(attributions.reshape(len(x), -1).sum(1) - diff) / np.maximum(np.abs(diff), 1e-12)


def _guided(fn, max_value=None):
    """Wrap a ReLU-like function so that its backward pass lets only positive gradients through
    where the input was positive (the 'guided' rule), and below ``max_value`` for a capped ReLU
    (ReLU6 passes no gradient above its cap)."""
    import tensorflow as tf

    @tf.custom_gradient
    def guided(x):
        y = fn(x)

        def grad(dy):
            passes = x > 0 if max_value is None else (x > 0) & (x < max_value)
            return dy * tf.cast(dy > 0, dy.dtype) * tf.cast(passes, dy.dtype)

        return y, grad

    return guided


def _redirected(fn, max_value=None, active=None):
    """Wrap a ReLU-like function with Lucid's redirected gradient (Olah et al. 2017, ``redirected_relu_grad``):
    for an image whose ReLU passes no gradient at all (every unit the objective needs is silent), let the
    gradient through the units below zero where it would raise them, so that a render can start from a silent
    unit. Any other image gets the ordinary ReLU gradient, unchanged; so does every image while the boolean
    ``active`` (a ``tf.Variable``, default always on) is False. ``dy`` is the gradient of the loss, which the
    optimizer *lowers*: ``dy < 0`` raises the unit."""
    import tensorflow as tf

    @tf.custom_gradient
    def redirected(x):
        y = fn(x)

        def grad(dy):
            passes = x > 0 if max_value is None else (x > 0) & (x < max_value)
            plain = dy * tf.cast(passes, dy.dtype)
            upward = dy * tf.cast(passes | (dy < 0), dy.dtype)  # a silent unit may be raised, never lowered
            stuck = tf.reduce_all(tf.equal(tf.reshape(plain, [tf.shape(x)[0], -1]), 0), axis=1)
            stuck = tf.reshape(stuck, tf.concat([tf.shape(x)[:1], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
            if active is not None:
                stuck = stuck & active
            return tf.where(stuck, upward, plain)

        return y, grad

    return redirected


@contextlib.contextmanager
def guided_relus(model: ModelLike):
    """Inside this block, every ReLU of ``model`` (``activation="relu"`` layers and ``ReLU`` layers, capped
    ones such as ReLU6 included, nested models too) back-propagates with the guided rule. Restored on exit, even on error."""
    with _swapped_relus(model, _guided):
        yield model


@contextlib.contextmanager
def redirected_relus(model: ModelLike, active=None):
    """Inside this block, every ReLU of ``model`` back-propagates with Lucid's redirected rule (see
    :func:`_redirected`; ``active``: a boolean ``tf.Variable`` that switches it, default on): feature
    visualization of a unit that is silent on the starting image. Restored on exit."""
    with _swapped_relus(model, lambda fn, max_value=None: _redirected(fn, max_value, active)):
        yield model


@contextlib.contextmanager
def _swapped_relus(model: ModelLike, wrap):
    """Every ReLU of ``model`` (nested models too) replaced by ``wrap(relu, max_value)`` inside the block."""
    import keras

    relu = keras.activations.relu
    swapped = []
    stack = [keras_model(model)]
    try:
        while stack:
            for layer in stack.pop().layers:
                if isinstance(layer, keras.Model):
                    stack.append(layer)
                elif getattr(layer, "activation", None) is relu:
                    swapped.append((layer, "activation", layer.activation))
                    layer.activation = wrap(relu)
                elif isinstance(layer, keras.layers.ReLU):
                    swapped.append((layer, "call", None))
                    layer.call = wrap(type(layer).call.__get__(layer), layer.max_value)
        yield model
    finally:
        for layer, attr, old in reversed(swapped):
            if old is None:
                del layer.__dict__[attr]  # back to the class's method
            else:
                setattr(layer, attr, old)


def guided_backprop(model: ModelLike, x, target: Target, compiled: bool = False) -> np.ndarray:
    """Guided backpropagation maps ``(N, H, W)``: input gradients with every ReLU's backward pass
    replaced by the guided rule (eagerly by default; ``compiled=True`` traces a guided pass once and keeps it,
    for many calls on one model)."""
    return to_map(input_gradients(model, x, target, eager=not compiled, guided=True))


METHODS = {
    "vanilla": vanilla_saliency,
    "smoothgrad": smoothgrad,
    "integrated_gradients": lambda model, x, target: to_map(integrated_gradients(model, x, target), "abs_sum"),
    "guided_backprop": guided_backprop,
}


def saliency(model: ModelLike, x, target: Target, method: str = "vanilla") -> np.ndarray:
    """Normalized ``(N, H, W)`` map of one of :data:`METHODS` (default settings)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {sorted(METHODS)}")
    return METHODS[method](model, x, target)


def saliency_stages(model: ModelLike, x, target: Target, method: str = "vanilla", first: int = 2,
                    samples: int = 20, steps: int = 32) -> Iterator[tuple[str, np.ndarray]]:
    """The map of :func:`saliency` in stages, cheapest first, so that an explorer shows a map at once:
    ``smoothgrad`` from the first ``first`` of its ``samples`` noisy copies, then from all of them (the same
    copies as :func:`smoothgrad`); ``integrated_gradients`` on a ``first``-step path, then on a ``steps``-step
    path through the same points (no gradient computed twice); other methods in one stage (guided backprop
    compiled). Yields ``(label, maps (N, H, W))``; the last map is :func:`saliency`'s. Meant for a few images:
    every copy of every image is held at once."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {sorted(METHODS)}")
    if method not in ("smoothgrad", "integrated_gradients"):
        kwargs = {"compiled": True} if method == "guided_backprop" else {}
        yield method, METHODS[method](model, x, target, **kwargs)
        return
    total = samples if method == "smoothgrad" else steps
    if not 1 <= first < total or (method == "integrated_gradients" and steps % first):
        raise ValueError(f"first={first!r}: expected 1 <= first < {total}" +
                         (f" and a divisor of steps={steps}" if method == "integrated_gradients" else ""))
    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, None, 2 * BATCH_PIXELS)
    if method == "smoothgrad":
        copies = list(_noisy_copies(x, samples, 0.15, 0, batch_size))
        done = [_copy_gradients(model, noisy[:, :first], target, part, batch_size) for part, noisy in copies]
        yield f"smoothgrad, {first} of {samples} samples", to_map(np.concatenate([g.mean(1) for g in done]))
        rest = [_copy_gradients(model, noisy[:, first:], target, part, batch_size) for part, noisy in copies]
        grads = np.concatenate([np.concatenate([a, b], 1).mean(1) for a, b in zip(done, rest)])
        yield f"smoothgrad, {samples} samples", to_map(grads)
        return
    alphas = np.linspace(0, 1, steps + 1, dtype=np.float32)[None, :, None, None, None]
    path = alphas * x[:, None]  # the zero baseline of integrated_gradients' default
    coarse = np.zeros(steps + 1, bool)
    coarse[::steps // first] = True
    every = slice(None)
    grads = np.empty_like(path)
    grads[:, coarse] = _copy_gradients(model, path[:, coarse], target, every, batch_size)

    def attribution(g):  # trapezoidal rule over the path points g (n, k + 1, H, W, 3)
        return to_map(x * (g[:, :-1] + g[:, 1:]).mean(1) / 2, "abs_sum")

    yield f"integrated_gradients, {first} steps", attribution(grads[:, coarse])
    grads[:, ~coarse] = _copy_gradients(model, path[:, ~coarse], target, every, batch_size)
    yield f"integrated_gradients, {steps} steps", attribution(grads)

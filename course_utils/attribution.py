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


def _compiled_gradient(model):
    """One ``tf.function`` per model (any batch size), so repeated calls and sliders never retrace."""
    import tensorflow as tf

    cache = model_cache(model, "gradient")
    if "fn" not in cache:
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        cache["fn"] = tf.function(lambda xb, tb: _gradient(model, xb, tb),
                                  input_signature=[spec, tf.TensorSpec((None,), tf.int64)])
    return cache["fn"]


def input_gradients(model: ModelLike, x: np.ndarray, target: Target, batch_size: int | None = None,
                    eager: bool = False) -> np.ndarray:
    """``d score / d x`` ``(N, H, W, 3)`` for inputs ``x``, in batches of ``batch_size`` (default:
    :func:`~course_utils.base.batch_for`, 64 scenes or 5 photos).

    Class targets run through a cached ``tf.function``; callables (and ``eager=True``, which guided
    backprop needs so that swapped activations are seen) run eagerly."""
    import tensorflow as tf

    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size)
    fn = _gradient if eager or callable(target) else (lambda m, xb, tb: _compiled_gradient(m)(xb, tb))
    grads = []
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


def smoothgrad(model: ModelLike, x, target: Target, samples: int = 20, noise: float = 0.15, seed: int = 0,
               batch_size: int | None = None, return_grads: bool = False) -> np.ndarray:
    """Average of the gradients of ``samples`` noisy copies of each input (noise std = ``noise`` times
    the input's value range). The copies go through the model in batches of ``batch_size`` (default:
    128 scenes of 64 px, 10 photos of 224 px)."""
    model = keras_model(model)
    x = check_x(model, x)
    if samples < 1:
        raise ValueError(f"samples={samples!r}: expected >= 1")
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size, 2 * BATCH_PIXELS)
    rng = np.random.default_rng(seed)
    grads = np.empty_like(x)
    for part in per_image_chunks(x, samples, batch_size):
        xp = x[part]
        sigma = noise * (xp.max(axis=(1, 2, 3), keepdims=True) - xp.min(axis=(1, 2, 3), keepdims=True))
        noisy = xp[:, None] + sigma[:, None] * rng.standard_normal((len(xp), samples, *x.shape[1:]), np.float32)
        t = target if callable(target) else np.repeat(target[part], samples)
        g = input_gradients(model, noisy.reshape(-1, *x.shape[1:]), t, batch_size)
        grads[part] = g.reshape(noisy.shape).mean(1)
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


def completeness_gap(model: ModelLike, x, target: Target, attributions: np.ndarray, baseline: np.ndarray | None = None
                     ) -> np.ndarray:
    """Relative error ``|sum(attr) - (score(x) - score(baseline))| / |score(x) - score(baseline)|`` per image."""
    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    if np.shape(attributions) != x.shape:
        raise ValueError(f"attributions of shape {np.shape(attributions)}: expected x's shape {x.shape} "
                         "(integrated_gradients output)")
    base = _baseline(baseline, x)
    diff = np.asarray(score(model(x, training=False), target)) - np.asarray(score(model(base, training=False), target))
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


@contextlib.contextmanager
def guided_relus(model: ModelLike):
    """Inside this block, every ReLU of ``model`` (``activation="relu"`` layers and ``ReLU`` layers, capped
    ones such as ReLU6 included, nested models too) back-propagates with the guided rule. Restored on exit, even on error."""
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
                    layer.activation = _guided(relu)
                elif isinstance(layer, keras.layers.ReLU):
                    swapped.append((layer, "call", None))
                    layer.call = _guided(type(layer).call.__get__(layer), layer.max_value)
        yield model
    finally:
        for layer, attr, old in reversed(swapped):
            if old is None:
                del layer.__dict__[attr]  # back to the class's method
            else:
                setattr(layer, attr, old)


def guided_backprop(model: ModelLike, x, target: Target) -> np.ndarray:
    """Guided backpropagation maps ``(N, H, W)``: input gradients with every ReLU's backward pass
    replaced by the guided rule (computed eagerly, so the swap is seen), then restored."""
    model = keras_model(model)
    with guided_relus(model):
        grads = input_gradients(model, x, target, eager=True)
    return to_map(grads)


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

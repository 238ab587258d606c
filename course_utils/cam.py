"""Where the network looks for a class: the class activation map (CAM) family.

Every method weighs the feature maps ``A`` ``(N, h, w, K)`` of one conv layer and sums them over ``K``:

- :func:`cam`                 Zhou et al. 2016, arXiv:1512.04150: weights = the classifier's weights
  after global average pooling (needs that architecture);
- :func:`grad_cam`            Selvaraju et al. 2017, arXiv:1610.02391: weights = spatial mean of
  ``d logit_c / d A``, then ReLU; any architecture, any spatial layer;
- :func:`grad_cam_plus_plus`  Chattopadhay et al. 2018, arXiv:1710.11063: per-position weights
  ``alpha = g^2 / (2 g^2 + sum(A) g^3)`` on ``ReLU(g)`` (eq. 19 with the exponential score, whose
  factor ``exp(S_c)`` cancels in ``alpha`` and only scales the map);
- :func:`layer_cam`           Jiang et al. 2021: ``ReLU(g) * A`` summed over ``K`` at every position (no
  spatial mean), then ReLU;
- :func:`guided_grad_cam`     Selvaraju et al. 2017: guided backprop times the upsampled Grad-CAM;
- :func:`score_cam`           Wang et al. 2020, arXiv:1910.01279: weights = the target's probability on the
  input masked by each feature map (no gradients; one forward pass per map).

Targets follow :mod:`course_utils.attribution` (a class index, one per image, or a callable on the
logits). Maps come back at the input's size ``(N, H, W)`` (``upsample=False``: the layer's ``(N, h, w)``),
normalized per image to [0, 1] (``normalize=False``: raw values); an all-zero gradient gives an
all-zero map, never NaN. Introduced in notebooks/05_gap_visualization.ipynb and 06_grad_cam.ipynb.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from course_utils.activations import feature_model, get_activations
from course_utils.layers import conv_layers, find_layer, layer_paths
from course_utils.attribution import input_gradients, score
from course_utils.base import (BATCH_PIXELS, ModelLike, Target, batch_for, check_number, check_target, check_x,
                               keras_model, model_cache, normalize_maps)


def spatial_layers(model: ModelLike) -> list[str]:
    """Paths of the layers with a 4-D ``(N, h, w, K)`` output, input to output: the valid CAM layers."""
    import keras

    model = keras_model(model)
    layers = {path: find_layer(model, path) for path in layer_paths(model)}
    return [path for path, layer in layers.items()
            if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]


def check_layer(model: ModelLike, layer: str) -> str:
    """``layer`` if it has a spatial output, else a ValueError naming it and the conv layers to use."""
    found = find_layer(model, layer)  # unknown names raise with the closest matches
    shape = tuple(found.output.shape)
    is_input = type(found).__name__ == "InputLayer"
    if is_input or len(shape) != 4:
        why = "is the model's input, which no weight has touched yet" if is_input else f"has output shape {shape}"
        near = ", ".join(reversed(conv_layers(model)[-6:]))
        raise ValueError(f"layer={layer!r} {why}: CAM methods need a spatial (N, h, w, K) output; use a conv layer "
                         f"such as {near}")
    return layer


def compile_layers(model: ModelLike, layers: Sequence[str]) -> None:
    """Trace one ``tf.function`` ``(x, target) -> ([A...], [dS/dA...])`` for every layer of ``layers`` not
    traced yet: one trace instead of one per layer (EfficientNet-Lite0: about 3 s each), so an explorer's
    layer control never waits for one. A later call at any of these layers runs the shared pass."""
    import tensorflow as tf

    model = keras_model(model)
    per_model = model_cache(model, "cam")
    group = tuple(dict.fromkeys(check_layer(model, name) for name in layers if name not in per_model))
    if not group:
        return
    sub = feature_model(model, group)

    def fn(xb, tb):
        with tf.GradientTape() as tape:
            *acts, logits = sub(xb, training=False)
            s = score(logits, tb)
        return acts, tape.gradient(s, acts)

    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
    per_model[group] = compiled = tf.function(fn, input_signature=[spec, tf.TensorSpec((None,), tf.int64)])
    for k, name in enumerate(group):
        per_model[name] = (compiled, k)


def _compiled(model, layer: str) -> Callable:
    """``(x, target) -> (A, dS/dA)`` of ``layer``: a traced pass of :func:`compile_layers`, any batch size."""
    per_model = model_cache(model, "cam")
    if layer not in per_model:
        compile_layers(model, [layer])
    compiled, k = per_model[layer]

    def fn(xb, tb):
        acts, grads = compiled(xb, tb)
        return acts[k], grads[k]

    return fn


def layer_gradients(model: ModelLike, x, target: Target, layer: str, batch_size: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Activations ``A`` and gradients ``d score / d A`` of ``layer``, both ``(N, h, w, K)``, ``batch_size``
    inputs per pass (default: :func:`~course_utils.base.batch_for`, 64 scenes or 5 photos)."""
    import tensorflow as tf

    model = keras_model(model)
    x = check_x(model, x)
    check_layer(model, layer)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    batch_size = batch_for(x, batch_size)
    acts, grads = [], []
    for i in range(0, len(x), batch_size):
        xb = tf.constant(x[i:i + batch_size])
        if callable(target):
            sub = feature_model(model, layer)
            with tf.GradientTape() as tape:
                a, logits = sub(xb, training=False)
                s = target(logits)
            g = tape.gradient(s, a)
        else:
            a, g = _compiled(model, layer)(xb, tf.constant(target[i:i + batch_size]))
        acts.append(a.numpy())
        grads.append(g.numpy())
    return np.concatenate(acts), np.concatenate(grads)


def _finish(maps: np.ndarray, size: tuple[int, int] | None, normalize: bool) -> np.ndarray:
    """Upsample ``(N, h, w)`` maps bilinearly to ``size`` and normalize them per image."""
    if size is not None and maps.shape[1:] != tuple(size):
        import tensorflow as tf

        maps = tf.image.resize(maps[..., None], size, "bilinear").numpy()[..., 0]
    return normalize_maps(maps) if normalize else maps.astype(np.float32)


def grad_cam(model: ModelLike, x, target: Target, layer: str, upsample: bool = True, normalize: bool = True) -> np.ndarray:
    """Grad-CAM: ``ReLU(sum_k w_k A_k)`` with ``w_k`` the spatial mean of ``d logit / d A_k``."""
    acts, grads = layer_gradients(model, x, target, layer)
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return _finish(np.maximum((weights * acts).sum(-1), 0), tuple(np.shape(x)[1:3]) if upsample else None, normalize)


def grad_cam_plus_plus(model: ModelLike, x, target: Target, layer: str, upsample: bool = True,
                       normalize: bool = True) -> np.ndarray:
    """Grad-CAM++: ``w_k = sum_ij alpha_kij ReLU(g_kij)``, ``alpha = g^2 / (2 g^2 + sum_ab A_kab g^3)``
    (0 where the denominator is 0), map ``ReLU(sum_k w_k A_k)``."""
    acts, g = layer_gradients(model, x, target, layer)
    g2 = g * g
    denom = 2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g2 * g
    alpha = np.divide(g2, denom, out=np.zeros_like(g2), where=denom != 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2), keepdims=True)
    return _finish(np.maximum((weights * acts).sum(-1), 0), tuple(np.shape(x)[1:3]) if upsample else None, normalize)


def guided_grad_cam(model: ModelLike, x, target: Target, layer: str, compiled: bool = False) -> np.ndarray:
    """Guided Grad-CAM ``(N, H, W)``: ``max_c |guided backprop(x)_c * Grad-CAM(x)|``, normalized
    (``compiled`` as in :func:`course_utils.attribution.guided_backprop`)."""
    model = keras_model(model)
    heat = grad_cam(model, x, target, layer)
    guided = input_gradients(model, x, target, eager=not compiled, guided=True)
    return normalize_maps(np.abs(guided * heat[..., None]).max(-1))


def layer_cam(model: ModelLike, x, target: Target, layer: str, upsample: bool = True, normalize: bool = True
              ) -> np.ndarray:
    """LayerCAM (Jiang et al. 2021, IEEE TIP 30:5875): ``ReLU(sum_k ReLU(g_k) * A_k)`` position by position,
    without Grad-CAM's spatial mean of the gradients, so a shallow layer's fine detail stays in the map."""
    acts, g = layer_gradients(model, x, target, layer)
    return _finish(np.maximum((np.maximum(g, 0) * acts).sum(-1), 0), tuple(np.shape(x)[1:3]) if upsample else None,
                   normalize)


def score_cam(model: ModelLike, x, target: Target, layer: str, max_channels: int | None = None,
              batch_size: int | None = None, progress: bool = False, upsample: bool = True, normalize: bool = True
              ) -> np.ndarray:
    """Score-CAM (Wang et al. 2020, arXiv:1910.01279), no gradients: each feature map ``A_k``, resized to the
    input and scaled to [0, 1], masks the input; its weight is the softmax probability of the target on that
    masked input; the map is ``ReLU(sum_k w_k A_k)``. ``max_channels``: only the maps with the largest spatial
    standard deviation (Faster Score-CAM). One forward pass per map and image, ``batch_size`` at a time
    (default: 128 scenes of 64 px, 10 photos of 224 px); EfficientNet-Lite0's ``top_conv`` has 1,280 maps."""
    from scipy.special import softmax

    from course_utils.perturbation import perturbed_logits

    model = keras_model(model)
    x = check_x(model, x)
    t = check_target(target, len(x), model.outputs[0].shape[-1])
    if callable(t):
        raise ValueError("score_cam takes class indices as target (one, or one per image), not a callable")
    check_layer(model, layer)
    batch_size = batch_for(x, batch_size, 2 * BATCH_PIXELS)
    acts = get_activations(model, x, layer)
    k = acts.shape[-1]
    if max_channels is not None:
        max_channels = check_number("max_channels", max_channels, 1, k, integer=True)
    maps = np.zeros(acts.shape[:3], np.float32)
    for i in range(len(x)):
        a = acts[i]
        keep = np.arange(k) if max_channels is None else np.sort(np.argsort(-a.std(axis=(0, 1)))[:max_channels])

        def masked(start, stop):  # the input times each map, resized to it and scaled to [0, 1]
            m = _finish(np.moveaxis(a[..., keep[start:stop]], -1, 0), tuple(x.shape[1:3]), normalize=False)
            lo, hi = m.min(axis=(1, 2), keepdims=True), m.max(axis=(1, 2), keepdims=True)
            return x[i] * ((m - lo) / (hi - lo + 1e-7))[..., None]

        logits = perturbed_logits(model, len(keep), masked, batch_size, progress, f"Score-CAM {i + 1}/{len(x)}")
        weights = softmax(logits, axis=-1)[:, t[i]]
        maps[i] = np.maximum(a[..., keep] @ weights, 0)
    return _finish(maps, tuple(x.shape[1:3]) if upsample else None, normalize)


def cam_weights(model: ModelLike, layer: str) -> np.ndarray:
    """``(K, classes)`` CAM weights of ``layer``: the kernel of the Dense layer that reads its global
    average pool, or the identity when the layer has one map per class and the model ends in that pool
    (``fashion_gap``). ValueError if the model has no such head (use :func:`grad_cam` then)."""
    import keras

    model = keras_model(model)
    check_layer(model, layer)
    k, classes = find_layer(model, layer).output.shape[-1], model.outputs[0].shape[-1]
    last = find_layer(model, layer_paths(model)[-1])
    if k == classes and isinstance(last, keras.layers.GlobalAveragePooling2D):
        return np.eye(classes, dtype=np.float32)
    dense = [find_layer(model, p) for p in layer_paths(model)]
    dense = [d for d in dense if isinstance(d, keras.layers.Dense) and tuple(d.kernel.shape) == (k, classes)]
    if not dense:
        raise ValueError(f"layer={layer!r}: CAM needs a global-average-pooling head (conv maps -> GAP -> Dense or "
                         f"GAP -> logits) after the layer, and {model.name!r} has none with {k} inputs; "
                         "use grad_cam, which works on any architecture")
    return np.asarray(dense[-1].kernel, np.float32)


def cam(model: ModelLike, x, target, layer: str, upsample: bool = True, normalize: bool = True, relu: bool = False) -> np.ndarray:
    """Class activation map ``sum_k W[k, c] A_k`` of class indices ``target`` (Zhou et al. 2016).
    ``relu=True`` keeps only positive evidence (then it equals Grad-CAM up to scale, see notebook 05)."""
    model = keras_model(model)
    x = check_x(model, x)
    weights = cam_weights(model, layer)
    t = check_target(target, len(x), weights.shape[1])
    if callable(t):
        raise ValueError("cam takes class indices as target, not a callable: its weights are one column per class")
    acts = get_activations(model, x, layer)
    maps = np.einsum("nhwk,kn->nhw", acts, weights[:, t])
    if relu:
        maps = np.maximum(maps, 0)
    return _finish(maps, tuple(np.shape(x)[1:3]) if upsample else None, normalize)


METHODS = {"grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus, "layer_cam": layer_cam,
           "guided_grad_cam": guided_grad_cam, "score_cam": score_cam, "cam": cam}


def heatmap(model: ModelLike, x, target: Target, layer: str, method: str = "grad_cam", compiled: bool = False
            ) -> np.ndarray:
    """Normalized ``(N, H, W)`` heatmap of one of :data:`METHODS` at ``layer`` (``compiled``: guided Grad-CAM's
    guided pass is traced once and kept, for many calls on one model)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {sorted(METHODS)}")
    return METHODS[method](model, x, target, layer, **({"compiled": compiled} if method == "guided_grad_cam" else {}))

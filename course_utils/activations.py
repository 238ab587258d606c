"""Capture any layer's activations, nested models included (the design card's "hooks").

A layer is named by its *path*: ``"block3_conv2"``, or ``"mobilenetv2_1.00_224/block_16_project"``
for a layer inside a backbone nested in a Sequential or Functional model. Keras cannot wire
``keras.Model(model.inputs, nested_layer.output)`` across a nested model, so :func:`feature_model`
rebuilds a connected graph that shares the original layers and weights (nothing is copied or
modified), and caches it per (model, layers) so widgets never rebuild or retrace it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from course_utils.base import ModelLike, batch_for, check_index, check_number, check_x, keras_model, model_cache
from course_utils.layers import find_layer, split_paths

def _tapped(model, paths: Sequence[str]):
    """A functional model ``inputs -> [outputs of paths..., model outputs...]`` sharing model's layers."""
    import keras

    direct, nested = split_paths(paths)
    if not nested and not isinstance(model, keras.Sequential):
        taps = [model.get_layer(p).output for p in direct]
        # one input as a tensor, not a list of one: the structure callers pass (no Keras warning on each call)
        return keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.input, taps + list(model.outputs))

    recorded: dict[str, object] = {}

    def call(layer, *args, **kwargs):
        if layer.name in nested:  # replace the nested model by a tapped copy of itself
            sub = _tapped(layer, nested[layer.name])
            outs = sub(*args, **kwargs)
            for rest, tensor in zip(nested[layer.name], outs):
                recorded[f"{layer.name}/{rest}"] = tensor
            out = outs[len(nested[layer.name]):]
            out = out[0] if len(out) == 1 else out
        else:
            out = layer(*args, **kwargs)
        if layer.name in direct:
            recorded[layer.name] = out
        return out

    if isinstance(model, keras.Sequential):  # never touch a Sequential's .input (Keras 3)
        x = inputs = keras.Input(model.inputs[0].shape[1:], dtype=model.inputs[0].dtype)
        for layer in model.layers:
            x = call(layer, x)
        outputs = [x]
    else:
        inputs = keras.tree.map_structure(lambda t: keras.Input(t.shape[1:], dtype=t.dtype), model.input)
        clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda l: l,
                                         call_function=call)
        outputs = list(clone.outputs)
    return keras.Model(inputs, [recorded[p] for p in paths] + outputs)


def feature_model(model: ModelLike, layers: str | Sequence[str]):
    """Cached ``keras.Model``: ``x -> [acts of each layer..., logits]``.

    Args:
        model: a ``keras.Model`` (Functional or Sequential, possibly with nested backbones).
        layers: one path or a list of paths (see :func:`find_layer`).
    Returns: the same object for the same (model, layers), so tf.functions built on it are reused.
    """
    model = keras_model(model)
    layers = (layers,) if isinstance(layers, str) or not hasattr(layers, "__iter__") else tuple(layers)
    for p in layers:
        find_layer(model, p)
    per_model = model_cache(model, "features")
    if layers not in per_model:
        per_model[layers] = _tapped(model, layers)
    return per_model[layers]


def compiled_features(model: ModelLike, layers: str | Sequence[str]):
    """Cached ``tf.function`` of :func:`feature_model`: ``x`` ``(N, H, W, 3)`` float32 ``-> [acts..., logits]``,
    traced once per (model, layers) for any batch size. Worth it where one model answers many calls (an
    explorer): a 224 px photo through EfficientNet-Lite0 takes about 0.05 s compiled and 0.5 s eagerly, after a
    trace of 1-2 s."""
    import tensorflow as tf

    model = keras_model(model)
    sub = feature_model(model, layers)
    per_model = model_cache(model, "features_fn")
    key = (layers,) if isinstance(layers, str) else tuple(layers)
    if key not in per_model:
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        per_model[key] = tf.function(lambda xb: sub(xb, training=False), input_signature=[spec])
    return per_model[key]


def get_activations(model: ModelLike, x: np.ndarray, layers: str | Sequence[str], batch_size: int | None = None,
                    compiled: bool = False):
    """Activations of ``layers`` for inputs ``x`` ``(N, H, W, 3)``, ``batch_size`` inputs per pass
    (default: :func:`~course_utils.base.batch_for`, 64 scenes or 5 photos); ``compiled=True`` runs them
    through :func:`compiled_features` (a trace on the first call, faster passes after it).

    Returns one array ``(N, h, w, c)`` for a single layer name, else a list of arrays in order.
    """
    single = isinstance(layers, str)
    sub = feature_model(model, layers)
    run = compiled_features(model, layers) if compiled else (lambda xb: sub(xb, training=False))
    x = check_x(model, x)
    batch_size = batch_for(x, batch_size)
    n_layers = 1 if single else len(layers)
    chunks = [run(x[i:i + batch_size])[:n_layers] for i in range(0, len(x), batch_size)]
    acts = [np.concatenate([np.asarray(c[k]) for c in chunks]) for k in range(n_layers)]
    return acts[0] if single else acts


def channel_stats(model: ModelLike, x: np.ndarray, layers: Sequence[str], batch_size: int | None = None
                  ) -> dict[str, dict]:
    """Per-channel summary of ``layers`` over a data set ``x`` without keeping its activations.

    Returns ``{layer: {"max": (c,), "mean": (c,), "max_per_input": (N, c)}}``: the largest value each
    channel reaches, its mean over inputs and positions, and each input's spatial maximum (to find
    the inputs that excite a channel most). A channel whose ``max`` is 0 after a ReLU never fires:
    it is *dead* on this data. Introduced in notebooks/00_activation_grids.ipynb.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    sub = feature_model(model, layers)
    x = check_x(model, x)
    batch_size = batch_for(x, batch_size)
    peaks = {layer: [] for layer in layers}
    sums = {layer: 0.0 for layer in layers}
    for i in range(0, len(x), batch_size):
        outs = sub(x[i:i + batch_size], training=False)
        for layer, a in zip(layers, outs):
            a = np.asarray(a)
            peaks[layer].append(a.max(axis=(1, 2)))
            sums[layer] = sums[layer] + a.mean(axis=(1, 2)).sum(0)
    stats = {}
    for layer in layers:
        per_input = np.concatenate(peaks[layer])
        stats[layer] = {"max": per_input.max(0), "mean": sums[layer] / len(x), "max_per_input": per_input}
    return stats


def top_patches(model: ModelLike, x: np.ndarray, images: np.ndarray, layer: str, channel: int, k: int = 9,
                stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` input patches that excite ``channel`` of ``layer`` most, one per input.

    Finds the inputs with the highest spatial maximum, locates that maximum in the feature map,
    and crops a square of ``images`` around it, about the layer's receptive field (4 feature-map
    cells plus 8 pixels). Returns ``(patches (k, p, p, 3), values (k,))``. Pass ``stats`` from
    :func:`channel_stats` to skip the pass over ``x``. Introduced in notebooks/02.
    """
    k = check_number("k", k, 1, integer=True)
    stats = stats or channel_stats(model, x, [layer])
    channel = check_index(channel, "channel", stats[layer]["max_per_input"].shape[1], f"channel of {layer}")
    per_input = stats[layer]["max_per_input"][:, channel]
    best = np.argsort(-per_input)[:k]
    acts = get_activations(model, x[best], layer)[..., channel]  # (k, h, w)
    H, W = images.shape[1:3]
    h, w = acts.shape[1:]
    side = min(H, 4 * H // h + 8)
    patches = []
    for a, i in zip(acts, best):
        y, xx = np.unravel_index(a.argmax(), a.shape)
        cy, cx = int((y + 0.5) * H / h), int((xx + 0.5) * W / w)
        top, left = np.clip(cy - side // 2, 0, H - side), np.clip(cx - side // 2, 0, W - side)
        patches.append(images[i, top:top + side, left:left + side])
    return np.stack(patches), per_input[best]

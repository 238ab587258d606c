"""Layers by path, nested models included: ``"block3_conv2"``, or ``"mobilenetv2_1.00_224/block_16_project"`` for
a layer inside a backbone nested in a Sequential or Functional model. Every module that names a layer looks it up
here; it imports only :mod:`course_utils.base`, so :mod:`course_utils.models` can use it from the bottom floor.
"""

from __future__ import annotations

import difflib
from typing import Sequence

import numpy as np

from course_utils.base import ModelLike, keras_model

_CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")


def is_model(layer) -> bool:
    """Is ``layer`` a whole ``keras.Model`` (a nested backbone)?"""
    import keras

    return isinstance(layer, keras.Model)


def _paths(model, prefix: str = "") -> list[str]:
    paths = []
    for layer in model.layers:
        path = prefix + layer.name
        paths.append(path)
        if is_model(layer):
            paths.extend(_paths(layer, path + "/"))
    return paths


def layer_paths(model: ModelLike) -> list[str]:
    """Paths of every layer of ``model``, input to output, descending into nested models."""
    return _paths(keras_model(model))


def conv_layers(model: ModelLike) -> list[str]:
    """Paths of the convolution layers of ``model`` (nested models resolved), input to output."""
    model = keras_model(model)
    return [p for p in _paths(model) if type(find_layer(model, p)).__name__ in _CONV_TYPES]


def _unknown(model, path: str) -> ValueError:
    valid = conv_layers(model)
    ranked = sorted(valid, key=lambda v: -difflib.SequenceMatcher(None, path.lower(), v.lower()).ratio())
    shown = ", ".join(ranked[:15]) + (f", ... ({len(ranked) - 15} more)" if len(ranked) > 15 else "")
    return ValueError(f"layer {path!r} is not in model {model.name!r}. Valid conv layers, closest first: {shown}")


def find_layer(model: ModelLike, path: str):
    """The layer at ``path`` (``"outer/inner"`` for nested models); ValueError listing the valid
    conv layers, closest names first, if there is none."""
    model = keras_model(model)
    if not isinstance(path, str) or not path:
        hint = ""
        if isinstance(path, (int, np.integer)) and -len(model.layers) <= path < len(model.layers):
            hint = f"; model.layers[{path}] is named {model.layers[path].name!r}"
        raise ValueError(f"layer {path!r}: expected a layer name (a str) such as {conv_layers(model)[-1:]}{hint}")
    node = model
    for part in path.split("/"):
        found = [l for l in getattr(node, "layers", []) if l.name == part] if is_model(node) else []
        if not found:
            raise _unknown(model, path)
        node = found[0]
    return node


def split_paths(paths: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Top-level layer names, and ``{nested model: [paths inside it]}`` for ``"model/layer"`` paths."""
    direct = [p for p in paths if "/" not in p]
    nested: dict[str, list[str]] = {}
    for p in paths:
        if "/" in p:
            head, rest = p.split("/", 1)
            nested.setdefault(head, []).append(rest)
    return direct, nested

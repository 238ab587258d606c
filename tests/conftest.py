"""Shared fixtures: tiny models, bundled models, scenes. Everything here works offline."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from course_utils.data import DEBIAN_DIR

needs_debian_data = pytest.mark.skipif(
    not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="needs the Debian package dataset-fashion-mnist (make data installs it)")


@pytest.fixture(scope="session")
def tiny_model():
    """An 8x8 two-conv functional model with 3 classes (logits)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="tiny")


@pytest.fixture(scope="session")
def nested_mobilenet():
    """``MobileNetV2(weights=None)`` inside a Sequential, the case naive sub-models get wrong."""
    import keras

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(weights=None)
    return keras.Sequential([keras.Input((224, 224, 3)), base, keras.layers.Dense(4, name="head")], name="wrapped")


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(0)

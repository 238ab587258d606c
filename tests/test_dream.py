"""Deep Dream (course_utils.dream) on the bundled model and on InceptionV3 (weights=None), and the
dream explorer widget."""

import logging

import numpy as np
import pytest

from course_utils import dream as D
from course_utils.activations import get_activations
from course_utils.models import load_model


@pytest.fixture(scope="module")
def cm():
    return load_model("fashion_vgg", verbose=False)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).uniform(0.2, 0.8, (96, 80, 3)).astype(np.float32)


@pytest.mark.parametrize("squared", [False, True])
def test_dream_raises_the_objective_and_keeps_shape_and_range(cm, image, squared):
    result = D.dream(cm, image, steps=3, octaves=2, squared=squared, progress=False)
    assert result.image.shape == image.shape and result.image.dtype == np.float32
    assert 0 <= result.image.min() and result.image.max() <= 1 and np.isfinite(result.image).all()
    assert result.after > result.before and result.history.shape == (6,)
    assert result.layers == cm.dream_layers and not np.allclose(result.image, image)


def test_octaves_progress_from_small_to_full_size(cm, image):
    assert D.octave_sizes(256, 200, 3, 1.4) == [(131, 102), (183, 143), (256, 200)]
    result = D.dream(cm, image, "block2_conv2", steps=2, octaves=3, octave_scale=1.3, progress=False)
    assert result.sizes == D.octave_sizes(96, 80, 3, 1.3) == [(57, 47), (74, 62), (96, 80)]
    assert [o.shape[:2] for o in result.octaves] == result.sizes
    assert result.octaves[-1] is result.image


def test_tiling_keeps_the_shape_of_a_big_image(cm):
    big = np.random.default_rng(1).random((300, 260, 3)).astype(np.float32)
    assert D.tile_grid(300, 260, 128) == (100, 87) and D.tile_grid(300, 260, 512) == (300, 260)
    tiled = D.dream(cm, big, "block3_conv2", steps=2, octaves=1, tile_size=128, progress=False)
    whole = D.dream(cm, big, "block3_conv2", steps=2, octaves=1, tile_size=512, progress=False)
    assert tiled.image.shape == whole.image.shape == big.shape and np.isfinite(tiled.image).all()
    assert tiled.after > tiled.before
    # no roll, one tile: a step is the plain normalized gradient step of the whole image
    d = D.dreamer(cm, ["block3_conv2"])
    stepped, _ = d.step(big, [1.0], tile_size=512)  # default step_size
    single = D.dream(cm, big, "block3_conv2", steps=1, octaves=1, roll=False, progress=False)
    np.testing.assert_allclose(single.image, stepped, atol=1e-6)


def test_deterministic_for_a_seed(cm, image):
    a, b, c = (D.dream(cm, image, steps=3, octaves=2, seed=s, progress=False) for s in (0, 0, 1))
    np.testing.assert_allclose(a.image, b.image, atol=1e-6)
    assert not np.allclose(a.image, c.image)


def test_trunk_reuses_the_trained_layers_on_any_size(cm):
    trunk = D.trunk_model(cm.model, ["block2_conv2", "block4_conv2"])
    assert trunk is D.trunk_model(cm.model, ("block2_conv2", "block4_conv2"))  # cached
    assert cm.model.get_layer("block2_conv2") in trunk.layers
    x = cm.preprocess(cm.samples(1))
    for mine, ref in zip(trunk(x), get_activations(cm.model, x, ["block2_conv2", "block4_conv2"])):
        np.testing.assert_allclose(np.asarray(mine), ref, atol=1e-5)
    assert [tuple(a.shape) for a in trunk(np.zeros((1, 200, 120, 3), np.float32))] == [(1, 100, 60, 24),
                                                                                        (1, 25, 15, 96)]


def test_no_retracing_across_sizes_octaves_and_weights(cm, caplog):
    d = D.dreamer(cm, ["block1_conv2", "block3_conv2"])
    with caplog.at_level(logging.WARNING):
        for size, weights in [(64, {"block1_conv2": 1.0, "block3_conv2": 0.5}), (90, {"block1_conv2": 0.0,
                              "block3_conv2": 2.0}), (130, {"block1_conv2": 1.0, "block3_conv2": 1.0})]:
            D.dream(cm, np.full((size, size + 7, 3), 0.5, np.float32), weights, steps=1, octaves=3, progress=False)
    assert d.tracing_count == 2 and D.dreamer(cm, ("block1_conv2", "block3_conv2")) is d
    assert "retracing" not in caplog.text


def test_zero_gradient_gives_no_nan(cm, image):
    result = D.dream(cm, image, {"block3_conv2": 0.0}, steps=2, octaves=2, progress=False)
    assert np.isfinite(result.image).all() and np.isfinite(result.history).all()
    np.testing.assert_allclose(result.image, image, atol=0.02)  # only the octave resampling changes it
    black = D.dream(cm, np.zeros((64, 64, 3), np.float32), "block1_conv1", steps=2, octaves=1, progress=False)
    assert np.isfinite(black.image).all()


def test_step_cap_from_environment(cm, image, monkeypatch):
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")
    assert D.dream(cm, image, steps=50, octaves=2, progress=False).history.shape == (4,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(layers="block9_conv1"), "block9_conv1.*Valid conv layers"),
    (dict(layers="fc1"), "'fc1' has output shape \\(None, 256\\).*spatial output"),
    (dict(layers=[]), "at least one layer"),
    (dict(layers={"block2_conv2": float("nan")}), "expected finite"),
    (dict(steps=0), "steps=0: expected an integer >= 1"),
    (dict(steps=2.5), "steps=2.5"),
    (dict(octaves=0), "octaves=0: expected an integer >= 1"),
    (dict(octave_scale=1.0), "octave_scale=1.0: expected a number > 1"),
    (dict(step_size=-0.1), "step_size=-0.1"),
    (dict(octaves=8, octave_scale=1.5), "too small.*at least 8 px"),
    (dict(tile_size=5), "tile_size=5.*at least 8 px"),
])
def test_bad_arguments_are_clear_errors(cm, image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.dream(cm, image, **{"steps": 1, **kwargs}, progress=False)


@pytest.mark.parametrize("bad, match", [("nan", "1 NaN"), ("range", "values in"), ("shape", "expected one RGB")])
def test_bad_images_are_clear_errors(cm, image, bad, match):
    img = image.copy()
    if bad == "nan":
        img[3, 4, 1] = np.nan
    elif bad == "range":
        img = img * 2
    else:
        img = img[..., :2]
    with pytest.raises(ValueError, match=match):
        D.dream(cm, img, steps=1, progress=False)


def test_inception_tier_mixed_layers():
    """InceptionV3 (weights=None): the ImageNet tier's default dream layers, its minimum input size."""
    import keras

    keras.utils.set_random_seed(0)
    inception = load_model("inception_v3", weights=None)
    assert set(inception.dream_layers) == {"mixed4", "mixed5", "mixed6", "mixed7"}
    image = np.random.default_rng(0).random((110, 130, 3)).astype(np.float32)
    result = D.dream(inception, image, steps=2, octaves=2, octave_scale=1.3, progress=False)
    assert result.image.shape == image.shape and result.after > result.before
    assert D.dreamer(inception, list(inception.dream_layers)).tracing_count == 2
    with pytest.raises(ValueError, match="at least 43 px"):
        D.dream(inception, image, steps=1, octaves=4, progress=False)


def test_trunk_of_a_nested_backbone(nested_mobilenet):
    path = "mobilenetv2_1.00_224/block_6_project"
    trunk = D.trunk_model(nested_mobilenet, [path])
    x = np.random.default_rng(0).random((1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(trunk(x)), get_activations(nested_mobilenet, x, path), atol=1e-4)
    assert trunk(x[:, :96, :64]).shape == (1, 6, 4, 64)  # stride 16


def test_dream_explorer_controls_change_the_picture(cm):
    from course_utils.widgets import dream_explorer

    box = dream_explorer(cm, cm.samples(2), size=64, steps=2, octaves=1)
    image_s, steps_s, octaves_s = (box.controls[k] for k in ("image", "steps/octave", "octaves"))
    weights = [box.controls[layer] for layer in cm.feature_layers]
    assert list(box.controls)[3:] == cm.feature_layers and bytes(box.figure.value).startswith(b"\xff\xd8")  # a JPEG
    seen = {bytes(box.figure.value)}
    for widget, value in [(image_s, 1), (steps_s, 3), (octaves_s, 2), (weights[0], 1.5), (weights[3], 0.0)]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 6

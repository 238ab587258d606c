"""course_utils.perturbation: exact values on a linear model, the RISE estimator by hand, and the maps on
bundled scenes."""

import numpy as np
import pytest

from course_utils import perturbation as P
from course_utils.data import FashionScenes
from course_utils.metrics import pointing_game
from course_utils.models import load_model


@pytest.fixture(scope="module")
def linear():
    """logit_c = sum(W_c * x): an occluded patch lowers logit c by sum over the patch of W_c * (x - fill)."""
    import keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(inputs)))
    rng = np.random.default_rng(1)
    model.layers[-1].set_weights([rng.normal(size=(192, 3)).astype("float32")])
    return model, np.asarray(model.layers[-1].kernel).reshape(8, 8, 3, 3)


def test_occlusion_on_a_linear_model_is_exact(linear, rng):
    model, w = linear
    x = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    got = P.occlusion(model, x, [0, 2], patch=2, stride=2, normalize=False)  # patches tile the image once
    for i, c in enumerate([0, 2]):
        contrib = (w[..., c] * (x[i] - x[i].mean((0, 1)))).sum(-1)  # (8, 8): each pixel's share of the drop
        want = contrib.reshape(4, 2, 4, 2).sum((1, 3)).repeat(2, 0).repeat(2, 1)
        np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)
    overlapping = P.occlusion(model, x[:1], 0, patch=4, stride=2, normalize=False)  # pixel = mean of its patches
    contrib = (w[..., 0] * (x[0] - x[0].mean((0, 1)))).sum(-1)
    starts = [0, 2, 4]
    total, count = np.zeros((8, 8)), np.zeros((8, 8))
    for y in starts:
        for xx in starts:
            total[y:y + 4, xx:xx + 4] += contrib[y:y + 4, xx:xx + 4].sum()
            count[y:y + 4, xx:xx + 4] += 1
    np.testing.assert_allclose(overlapping[0], total / count, rtol=1e-4, atol=1e-5)
    maps = P.occlusion(model, x, 1, patch=3, stride=2)  # the last patch sits flush with the edge
    assert maps.shape == (2, 8, 8) and np.isfinite(maps).all() and maps.min() >= 0 and np.allclose(maps.max((1, 2)), 1)


def test_rise_is_its_estimator(linear, rng):
    import tensorflow as tf

    model, _ = linear
    x = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    masks = P.rise_masks(50, (8, 8), cells=4, keep=0.5, seed=3)
    assert masks.shape == (50, 8, 8) and 0 <= masks.min() and masks.max() <= 1
    assert 0.3 < masks.mean() < 0.7  # about half kept
    got = P.rise(model, x, [1, 2], masks=50, cells=4, keep=0.5, seed=3, batch_size=16)  # 4 batches of masks
    for i, c in enumerate([1, 2]):
        probs = tf.nn.softmax(model(x[i] * masks[..., None])).numpy()[:, c]
        want = np.tensordot(probs, masks, 1) / 25
        want = (want - want.min()) / (want.max() - want.min())
        np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", sorted(P.METHODS))
def test_perturbation_maps_point_at_the_item(method):
    cm = load_model("fashion_vgg")
    scenes = FashionScenes("test", seed=7).generate(24)
    kwargs = {"masks": 300} if method == "rise" else {}
    heat = P.METHODS[method](cm.model, cm.preprocess(scenes.images), scenes.label, **kwargs)
    assert heat.shape == (24, 64, 64) and np.isfinite(heat).all()
    assert pointing_game(heat, scenes.masks[:, 0], tolerance=4).mean() > 0.6  # random maps: about 0.3

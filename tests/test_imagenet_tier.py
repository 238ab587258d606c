"""Every course function on a keras.applications architecture (MobileNetV2, weights=None: the cost and
code path of the ImageNet tier without the download)."""

import numpy as np
import pytest

from course_utils import attribution, optimization
from course_utils.activations import channel_stats, get_activations
from course_utils.models import load_model


@pytest.fixture(scope="module")
def cm():
    import keras

    keras.utils.set_random_seed(0)
    return load_model("mobilenet_v2", weights=None)


@pytest.fixture(scope="module")
def x(cm):
    return cm.preprocess(cm.samples(2))


@pytest.mark.parametrize("method", sorted(attribution.METHODS))
def test_saliency_methods(cm, x, method):
    kwargs = {"smoothgrad": dict(samples=2), "integrated_gradients": dict(steps=2)}.get(method, {})
    fn = {"vanilla": attribution.vanilla_saliency, "smoothgrad": attribution.smoothgrad,
          "guided_backprop": attribution.guided_backprop,
          "integrated_gradients": lambda m, x, t, **k: attribution.to_map(attribution.integrated_gradients(m, x, t, **k))}
    maps = fn[method](cm.model, x, 7, **kwargs)
    assert maps.shape == (2, 224, 224) and np.isfinite(maps).all()
    with pytest.raises(ValueError, match="target=1000"):
        attribution.vanilla_saliency(cm.model, x, 1000)


def test_activations_and_stats(cm, x):
    layers = cm.feature_layers[:2]
    acts = get_activations(cm.model, x, layers)
    stats = channel_stats(cm.model, x, layers)
    for layer, a in zip(layers, acts):
        np.testing.assert_allclose(stats[layer]["max"], a.max(axis=(0, 1, 2)), rtol=1e-5)
        assert stats[layer]["max_per_input"].shape == (2, a.shape[-1])


def test_render_on_imagenet_architecture(cm, x):
    layer = cm.feature_layers[1]
    alive = int(get_activations(cm.model, x[:1], layer)[0].mean((0, 1)).argmax())
    images, history = optimization.render(cm, optimization.channel(layer, alive), steps=3, learning_rate=0.1,
                                          transforms=(), progress=False)  # no random transforms: a clean ascent
    assert images.shape == (1, 224, 224, 3) and history[-1, 0] > history[0, 0]

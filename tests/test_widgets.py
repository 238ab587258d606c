"""Widgets built on a randomly initialized bundled architecture: they must draw, and each control must
change the picture. (Speed is measured by the benchmark, not here.)"""

import numpy as np
import pytest

from course_utils.data import CLASS_NAMES, FashionScenes
from course_utils.models import SPECS, CourseModel
from course_utils.train import build_fashion_vgg


@pytest.fixture(scope="module")
def cm():
    import keras

    keras.utils.set_random_seed(0)
    return CourseModel("fashion_vgg", build_fashion_vgg(), SPECS["fashion_vgg"], CLASS_NAMES)


@pytest.fixture(scope="module")
def images():
    return FashionScenes("test", seed=0).generate(3).images


def _controls(box):
    return [w for row in box.children[:-1] for w in row.children]


def test_activation_explorer_controls_change_the_picture(cm, images):
    from course_utils.widgets import activation_explorer

    box = activation_explorer(cm, images)
    image_s, layer_d, channel_s, overlay_c = _controls(box)
    seen = {bytes(box.children[-1].value)}
    assert bytes(box.children[-1].value).startswith(b"\x89PNG")
    for widget, value in [(layer_d, cm.feature_layers[-1]), (channel_s, 5), (image_s, 2), (overlay_c, True)]:
        widget.value = value
        seen.add(bytes(box.children[-1].value))
    assert len(seen) == 5
    assert channel_s.max == 95  # the channel slider follows the layer's width


def test_saliency_explorer_controls_change_the_picture(cm, images):
    from course_utils.widgets import saliency_explorer

    box = saliency_explorer(cm, images, methods=["vanilla", "guided_backprop"])
    image_s, class_d, method_d = _controls(box)
    seen = {bytes(box.children[-1].value)}
    for widget, value in [(class_d, (class_d.value + 1) % 10), (method_d, "guided_backprop"), (image_s, 1)]:
        widget.value = value
        seen.add(bytes(box.children[-1].value))
    assert len(seen) == 4 and class_d.value == int(cm.predict(images[1:2]).argmax())


def test_render_explorers_controls_change_the_picture(cm, images):
    from course_utils.widgets import feature_explorer, inversion_explorer

    box = feature_explorer(cm, steps=4)
    layer_d, channel_s, param_d = _controls(box)
    seen = {bytes(box.children[-1].value)}
    for widget, value in [(channel_s, 3), (param_d, "pixels"), (layer_d, cm.feature_layers[0])]:
        widget.value = value
        seen.add(bytes(box.children[-1].value))
    assert len(seen) == 4 and channel_s.max == 11  # block1 has 12 channels

    box = inversion_explorer(cm, images[0], steps=4)
    layer_d, tv_s = _controls(box)
    before = bytes(box.children[-1].value)
    layer_d.value = cm.feature_layers[2]
    assert bytes(box.children[-1].value) != before

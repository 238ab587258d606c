"""Widgets built on a randomly initialized bundled architecture: they must draw, and each control must
change the picture. (Speed is measured by the benchmark, not here.)"""

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


def test_activation_explorer_controls_change_the_picture(cm, images):
    from course_utils.widgets import activation_explorer

    box = activation_explorer(cm, images)
    image_s, layer_d, channel_s, overlay_c = (box.controls[k] for k in ("image", "layer", "channel", "overlay"))
    seen = {bytes(box.figure.value)}
    assert bytes(box.figure.value).startswith(b"\xff\xd8")  # a JPEG
    for widget, value in [(layer_d, cm.feature_layers[-1]), (channel_s, 5), (image_s, 2), (overlay_c, True)]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 5
    assert channel_s.max == 95  # the channel slider follows the layer's width


def test_an_explorer_shows_its_first_state_where_no_kernel_runs(cm, images):
    """GitHub and static previews cannot draw a widget: the display carries a JPEG of the current figure."""
    import base64
    import io

    from PIL import Image

    from course_utils.widgets import activation_explorer

    box = activation_explorer(cm, images)
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live frontends still get the widget
    assert "VBox" not in bundle["text/plain"]
    still = Image.open(io.BytesIO(base64.b64decode(bundle["image/jpeg"])))
    assert still.format == "JPEG" and still.size == Image.open(io.BytesIO(bytes(box.figure.value))).size
    box.controls["layer"].value = cm.feature_layers[-1]  # the snapshot follows the figure
    assert box._repr_mimebundle_()["image/jpeg"] != bundle["image/jpeg"]


def test_saliency_explorer_controls_change_the_picture(cm, images):
    from course_utils.widgets import saliency_explorer

    box = saliency_explorer(cm, images, methods=["vanilla", "guided_backprop"])
    image_s, class_d, method_d = (box.controls[k] for k in ("image", "class", "method"))
    seen = {bytes(box.figure.value)}
    for widget, value in [(class_d, (class_d.value + 1) % 10), (method_d, "guided_backprop"), (image_s, 1)]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 4 and class_d.value == int(cm.predict(images[1:2]).argmax())


def test_render_explorers_controls_change_the_picture(cm, images):
    from course_utils.widgets import feature_explorer, inversion_explorer

    box = feature_explorer(cm, steps=4)
    layer_d, channel_s, param_d = (box.controls[k] for k in ("layer", "channel", "image as"))
    seen = {bytes(box.figure.value)}
    for widget, value in [(channel_s, 3), (param_d, "pixels"), (layer_d, cm.feature_layers[0])]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 4 and channel_s.max == 11  # block1 has 12 channels

    box = inversion_explorer(cm, images[0], steps=4)
    layer_d, tv_s = box.controls["layer"], box.controls["TV weight"]
    before = bytes(box.figure.value)
    layer_d.value = cm.feature_layers[2]
    after_layer = bytes(box.figure.value)
    tv_s.value = 5.0
    assert len({before, after_layer, bytes(box.figure.value)}) == 3


def test_cue_explorer_controls_change_the_picture(cm):
    from course_utils.widgets import cue_explorer

    box = cue_explorer([cm], n=40, target=2)
    seen = {bytes(box.figure.value)}
    for widget, value in [(box.controls["hue"], 120), (box.controls["class"], 2)]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 3
    with pytest.raises(ValueError, match="n=5"):
        cue_explorer([cm], n=5)

import numpy as np
import pytest

from course_utils import optimization as O
from course_utils.data import CLASS_NAMES
from course_utils.models import SPECS, CourseModel


@pytest.fixture(scope="module")
def cm():
    """A bundled architecture with random weights (nothing here needs trained ones)."""
    import keras

    from course_utils.train import build_fashion_gap

    keras.utils.set_random_seed(0)
    return CourseModel("fashion_gap", build_fashion_gap(), SPECS["fashion_gap"], CLASS_NAMES)


@pytest.mark.parametrize("param", ["pixels", "fourier", "decorrelated"])
def test_three_steps_of_ascent_raise_the_objective(cm, param):
    make = {"pixels": lambda: O.Pixels(2, 64, std=0.5), "fourier": lambda: O.Fourier(2, 64, std=0.5),
            "decorrelated": lambda: O.Pixels(2, 64, std=0.5, decorrelate=True)}[param]
    from course_utils.activations import get_activations

    noise = np.random.default_rng(0).random((1, 64, 64, 3), np.float32)
    alive = int(get_activations(cm.model, noise, "block3_conv2")[0].mean((0, 1)).argmax())  # random weights
    images, history = O.render(cm, O.channel("block3_conv2", alive), param=make(), steps=3, learning_rate=0.1,
                               progress=False)
    assert images.shape == (2, 64, 64, 3) and 0 <= images.min() and images.max() <= 1
    assert history.shape == (3, 2) and (history[-1] > history[0]).all()


def test_objectives_compose(cm):
    import tensorflow as tf

    acts = {"a": tf.ones((2, 4, 4, 3)) * tf.reshape(tf.range(3.0), (1, 1, 1, 3)), O.LOGITS: tf.constant([[1.0, 5.0]] * 2),
            O.IMAGE: tf.fill((2, 8, 8, 3), 0.5)}
    obj = 2 * O.channel("a", 2) - O.class_logit(1) + O.l2() - 0.5 * O.total_variation()
    np.testing.assert_allclose(obj(acts).numpy(), [2 * 2 - 5 + 0 - 0] * 2)
    assert obj.layers == ("a", O.LOGITS, O.IMAGE)
    np.testing.assert_allclose(O.neuron("a", 1)(acts).numpy(), [1, 1])
    np.testing.assert_allclose(O.direction("a", np.array([0, 0, 2.0]))(acts).numpy(), [2, 2])


def test_diversity_rewards_different_images():
    import tensorflow as tf

    same = {"a": tf.ones((3, 4, 4, 2))}
    rng = np.random.default_rng(0)
    different = {"a": tf.constant(rng.random((3, 4, 4, 2)) ** 4, tf.float32)}
    assert (O.diversity("a")(same).numpy() < O.diversity("a")(different).numpy()).all()


def test_transforms_keep_the_shape():
    import tensorflow as tf

    img = tf.random.uniform((2, 32, 32, 3))
    for t in O.standard_transforms(32):
        assert t(img).shape == (2, 32, 32, 3)


def test_step_cap_from_environment(cm, monkeypatch):
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")
    _, history = O.render(cm, O.channel("block1_conv1", 0), steps=50, progress=False)
    assert len(history) == 2


def test_unknown_layer_is_a_clear_error(cm):
    with pytest.raises(ValueError, match="block9_conv1"):
        O.render(cm, O.channel("block9_conv1", 0), steps=1, progress=False)


def test_feature_match_is_zero_at_the_target_and_inversion_approaches_it(cm):
    from course_utils.activations import get_activations

    rng = np.random.default_rng(0)
    target_image = rng.random((1, 64, 64, 3), np.float32)
    target = get_activations(cm.model, cm.preprocess(target_image), "block2_conv2")
    objective = O.feature_match("block2_conv2", target)
    assert float(objective({"block2_conv2": target})[0]) == 0.0
    _, history = O.render(cm, objective, param=O.Pixels(1, 64), steps=20, learning_rate=0.05, progress=False)
    assert history[-1, 0] > history[0, 0]


def test_renderer_reruns_from_scratch_and_follows_its_variables(cm):
    import tensorflow as tf

    c = tf.Variable(0)
    renderer = O.Renderer(cm, O.channel("block2_conv1", c), O.Pixels(1, 64, std=0.5), transforms=())
    first, h1 = renderer.run(5, progress=False)
    again, h2 = renderer.run(5, progress=False)
    np.testing.assert_allclose(again, first, atol=1e-5)  # reset: same start, same optimizer state
    np.testing.assert_allclose(h2, h1, atol=1e-5)
    c.assign(3)
    other, _ = renderer.run(5, progress=False)
    assert not np.allclose(other, first)


def test_many_renderers_do_not_warn_about_retracing(cm, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        for c in range(7):
            O.Renderer(cm, O.channel("block1_conv1", c), O.Pixels(1, 64)).run(2, progress=False)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


@pytest.mark.parametrize("objective, bad", [(lambda: O.channel("block2_conv1", 24), "channel of block2_conv1 24"),
                                            (lambda: O.channel("block2_conv1", [0, -1]), "-1"),
                                            (lambda: O.neuron("block1_conv1", 12), "< 12"),
                                            (lambda: 2 * O.class_logit(10) - O.l2(), "class 10 is out of range")])
def test_out_of_range_channel_or_class(cm, objective, bad):
    with pytest.raises(ValueError) as e:
        O.render(cm, objective(), steps=1, progress=False)
    assert bad in str(e.value)


def test_a_variable_weight_changes_the_render_between_runs(cm):
    """``objective * variable`` reads the variable at every step (the inversion widget's TV slider); the
    reversed order gets a copy of its value from TensorFlow, and says so."""
    import tensorflow as tf

    w = tf.Variable(0.001)
    r = O.Renderer(cm, O.channel(cm.feature_layers[0], 1) - O.total_variation() * w, O.Pixels(1, cm.input_size[0], std=0.5))
    low = r.run(3, progress=False)[1]
    w.assign(10.0)
    assert not np.allclose(r.run(3, progress=False)[1], low)
    with pytest.warns(UserWarning, match="objective \\* variable"):
        w * O.total_variation()


def test_the_standard_transforms_are_on_by_default(cm):
    """The default recipe jitters, scales and rotates every step: two runs draw different transforms, so they end
    in different images; with transforms=() the ascent is the same each time."""
    objective = O.channel("block2_conv1", 0)
    default = O.Renderer(cm, objective, O.Pixels(1, 64, std=0.5))
    assert not np.allclose(default.run(5, progress=False)[0], default.run(5, progress=False)[0], atol=1e-4)
    plain = O.Renderer(cm, objective, O.Pixels(1, 64, std=0.5), transforms=())
    np.testing.assert_allclose(plain.run(5, progress=False)[0], plain.run(5, progress=False)[0], atol=1e-5)


def test_redirected_relus_wake_a_silent_channel_and_leave_a_live_one_alone(cm):
    import keras

    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(1, 3, activation="relu", name="conv")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(conv(inputs))))
    # pre-activation 0.1 * (27 pixels) - 2: about -0.65 on the mid-grey start (silent), up to +0.7 on a white image
    conv.set_weights([np.full((3, 3, 3, 1), 0.1, np.float32), np.array([-2.0], np.float32)])
    final = {redirect: O.render(model, O.channel("conv", 0), O.Pixels(1, 8, std=0.01), transforms=(), steps=40,
                                learning_rate=0.05, progress=False, redirect=redirect)[1][-1, 0]
             for redirect in (False, True)}
    assert final[False] == 0.0 and final[True] > 0.1  # the plain gradient never moves a silent unit
    live = [O.render(cm, O.channel("block2_conv1", 3), steps=3, progress=False, redirect=r)[0] for r in (False, True)]
    np.testing.assert_array_equal(*live)  # a unit that fires gets the plain gradient, bit for bit

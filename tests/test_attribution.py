import numpy as np
import pytest

from course_utils import attribution as A


@pytest.fixture(scope="module")
def x(rng):
    return rng.uniform(0, 1, (3, 8, 8, 3)).astype("float32")


@pytest.mark.parametrize("method", sorted(A.METHODS))
def test_every_method_contract(tiny_model, x, method):
    maps = A.saliency(tiny_model, x, 1, method=method)
    assert maps.shape == (3, 8, 8) and maps.dtype == np.float32 and np.isfinite(maps).all()
    assert np.allclose(maps.max(axis=(1, 2)), 1) and np.allclose(maps.min(axis=(1, 2)), 0)


def test_vanilla_is_the_logit_gradient(tiny_model, x):
    import tensorflow as tf

    xt = tf.convert_to_tensor(x[:1])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logit = tiny_model(xt)[0, 2]
    grad = tape.gradient(logit, xt).numpy()
    expected = np.abs(grad[0]).max(-1)
    np.testing.assert_allclose(A.input_gradients(tiny_model, x[:1], 2), grad, atol=1e-6)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    np.testing.assert_allclose(A.vanilla_saliency(tiny_model, x[:1], 2)[0], expected, atol=1e-5)


def test_per_image_targets_and_callables(tiny_model, x):
    per_image = A.input_gradients(tiny_model, x, np.array([0, 1, 2]))
    for i in range(3):
        np.testing.assert_allclose(per_image[i], A.input_gradients(tiny_model, x[i:i + 1], i)[0], atol=1e-6)
    summed = A.input_gradients(tiny_model, x, lambda logits: logits[:, 0] + logits[:, 1])
    np.testing.assert_allclose(summed, A.input_gradients(tiny_model, x, 0) + A.input_gradients(tiny_model, x, 1),
                               atol=1e-5)


def test_zero_gradient_gives_zero_map_not_nan():
    maps = A.to_map(np.zeros((2, 5, 5, 3), np.float32))
    assert np.isfinite(maps).all() and (maps == 0).all()


def test_integrated_gradients_completeness(tiny_model, x):
    attr = A.integrated_gradients(tiny_model, x, 1, steps=64)
    assert attr.shape == x.shape
    assert (A.completeness_gap(tiny_model, x, 1, attr) < 0.05).all()


def test_completeness_gap_is_the_same_in_batches(tiny_model, x):
    attr = A.integrated_gradients(tiny_model, x, [0, 1, 2], steps=8)
    whole = A.completeness_gap(tiny_model, x, [0, 1, 2], attr)
    np.testing.assert_allclose(A.completeness_gap(tiny_model, x, [0, 1, 2], attr, batch_size=2), whole, rtol=1e-5)
    by_one = [A.completeness_gap(tiny_model, x[i:i + 1], i, attr[i:i + 1])[0] for i in range(3)]
    np.testing.assert_allclose(by_one, whole, rtol=1e-5)
    pair = lambda logits: logits[:, 0] - logits[:, 1]  # a callable target, batched too
    attr = A.integrated_gradients(tiny_model, x, pair, steps=8)
    np.testing.assert_allclose(A.completeness_gap(tiny_model, x, pair, attr, batch_size=1),
                               A.completeness_gap(tiny_model, x, pair, attr), rtol=1e-5)


def test_smoothgrad_batches_noise_and_is_seeded(tiny_model, x):
    a = A.smoothgrad(tiny_model, x, 0, samples=8, seed=1)
    np.testing.assert_array_equal(a, A.smoothgrad(tiny_model, x, 0, samples=8, seed=1, batch_size=5))
    assert not np.array_equal(a, A.smoothgrad(tiny_model, x, 0, samples=8, seed=2))
    one = A.smoothgrad(tiny_model, x, 0, samples=1, noise=0.0, return_grads=True)
    np.testing.assert_allclose(one, A.input_gradients(tiny_model, x, 0), atol=1e-6)  # no noise = vanilla


def test_guided_backprop_changes_gradients_and_restores_the_model(tiny_model, x):
    import keras

    before = [layer.activation for layer in tiny_model.layers if hasattr(layer, "activation")]
    plain = A.input_gradients(tiny_model, x, 0)
    with A.guided_relus(tiny_model):
        g = A.input_gradients(tiny_model, x, 0, eager=True)
    assert not np.allclose(g, plain)
    np.testing.assert_allclose(A.to_map(g), A.guided_backprop(tiny_model, x, 0), atol=1e-6)
    assert [layer.activation for layer in tiny_model.layers if hasattr(layer, "activation")] == before
    with pytest.raises(RuntimeError):
        with A.guided_relus(tiny_model):
            raise RuntimeError("fails inside")
    assert tiny_model.get_layer("conv_a").activation is keras.activations.relu  # restored after an error
    np.testing.assert_allclose(A.input_gradients(tiny_model, x, 0), plain, atol=1e-6)


def test_guided_backprop_on_relu_layers_in_nested_models(nested_mobilenet, rng):
    import keras

    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    maps = A.guided_backprop(nested_mobilenet, x, 1)
    assert maps.shape == (1, 224, 224) and np.isfinite(maps).all()
    relu = nested_mobilenet.layers[0].get_layer("out_relu")
    assert isinstance(relu, keras.layers.ReLU) and "call" not in relu.__dict__


def test_guided_backprop_respects_the_relu6_cap():
    import keras

    inputs = keras.Input((1, 1, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.ReLU(6.0)(inputs))))
    model.layers[-1].set_weights([np.ones((3, 1), "float32"), np.zeros(1, "float32")])
    x = np.array([[[[-1.0, 3.0, 8.0]]]], "float32")  # below 0, inside (0, 6), above the cap
    with A.guided_relus(model):
        g = A.input_gradients(model, x, 0, eager=True)
    np.testing.assert_array_equal(g.ravel(), [0.0, 1.0, 0.0])  # ReLU6's own derivative, guided


@pytest.mark.parametrize("target, bad", [(3, "target=3"), (-1, "target=-1"), (1.5, "target=1.5"),
                                         (np.array([0, 1]), "target=array([0, 1])")])
def test_bad_targets(tiny_model, x, target, bad):
    with pytest.raises(ValueError) as e:
        A.vanilla_saliency(tiny_model, x, target)
    assert bad in str(e.value) and "[0, 2]" in str(e.value)


@pytest.mark.parametrize("shape", [(8, 8, 3), (1, 8, 8), (1, 16, 16, 3), (0, 8, 8, 3)])
def test_bad_input_shapes(tiny_model, shape):
    with pytest.raises(ValueError, match=r"x of shape .*expected a batch \(N, 8, 8, 3\)"):
        A.vanilla_saliency(tiny_model, np.zeros(shape, np.float32), 0)


def test_bad_method_and_settings(tiny_model, x):
    with pytest.raises(ValueError, match="'gradcam'"):
        A.saliency(tiny_model, x, 0, method="gradcam")
    with pytest.raises(ValueError, match="samples=0"):
        A.smoothgrad(tiny_model, x, 0, samples=0)
    with pytest.raises(ValueError, match="NaN"):
        A.vanilla_saliency(tiny_model, np.full((1, 8, 8, 3), np.nan, np.float32), 0)


def test_compiled_guided_pass_keeps_the_guided_rule_and_leaves_the_plain_one_alone(tiny_model, x):
    plain = A.input_gradients(tiny_model, x, 1)
    eager = A.input_gradients(tiny_model, x, 1, eager=True, guided=True)
    compiled = A.input_gradients(tiny_model, x, 1, guided=True)  # traced inside the swap, called outside it
    np.testing.assert_allclose(compiled, eager, atol=1e-6)
    assert np.abs(compiled - plain).max() > 1e-3  # the guided rule is in the traced graph
    np.testing.assert_allclose(A.input_gradients(tiny_model, x, 1), plain, atol=1e-6)  # the plain pass unchanged
    np.testing.assert_allclose(A.guided_backprop(tiny_model, x, 1, compiled=True), A.guided_backprop(tiny_model, x, 1),
                               atol=1e-5)


@pytest.mark.parametrize("method", sorted(A.METHODS))
def test_saliency_stages_end_at_the_method_and_start_cheaper(tiny_model, x, method):
    stages = list(A.saliency_stages(tiny_model, x, 2, method))
    np.testing.assert_allclose(stages[-1][1], A.saliency(tiny_model, x, 2, method), atol=1e-5)
    if method == "smoothgrad":
        assert [label for label, _ in stages] == ["smoothgrad, 2 of 20 samples", "smoothgrad, 20 samples"]
        two = A.to_map(A.input_gradients(tiny_model, next(A._noisy_copies(x, 20, 0.15, 0, 128))[1][:, :2]
                                         .reshape(-1, 8, 8, 3), np.repeat([2, 2, 2], 2)).reshape(3, 2, 8, 8, 3).mean(1))
        np.testing.assert_allclose(stages[0][1], two, atol=1e-5)  # the first 2 of the same 20 copies
    elif method == "integrated_gradients":
        assert [label for label, _ in stages] == ["integrated_gradients, 2 steps", "integrated_gradients, 32 steps"]
        np.testing.assert_allclose(stages[0][1], A.to_map(A.integrated_gradients(tiny_model, x, 2, steps=2), "abs_sum"),
                                   atol=1e-5)
    else:
        assert len(stages) == 1

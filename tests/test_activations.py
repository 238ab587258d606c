import numpy as np
import pytest

from course_utils.activations import feature_model, get_activations
from course_utils.layers import conv_layers, find_layer, layer_paths

NESTED = "mobilenetv2_1.00_224/block_16_project"


def test_conv_layers_in_order(tiny_model):
    assert conv_layers(tiny_model) == ["conv_a", "conv_b"]


def test_layer_paths_descend_into_nested_models(nested_mobilenet):
    paths = layer_paths(nested_mobilenet)
    assert paths[0] == "mobilenetv2_1.00_224" and paths[-1] == "head"
    assert NESTED in paths and NESTED in conv_layers(nested_mobilenet)
    assert conv_layers(nested_mobilenet)[0] == "mobilenetv2_1.00_224/Conv1"


def test_find_layer_nested(nested_mobilenet):
    layer = find_layer(nested_mobilenet, NESTED)
    assert layer.name == "block_16_project" and layer.filters == 320


def test_unknown_layer_lists_closest_conv_layers_first(nested_mobilenet):
    with pytest.raises(ValueError) as e:
        find_layer(nested_mobilenet, "mobilenetv2_1.00_224/block_16_projct")
    msg = str(e.value)
    assert "'mobilenetv2_1.00_224/block_16_projct'" in msg
    assert msg.split("closest first: ")[1].startswith(NESTED + ",")


@pytest.mark.parametrize("bad", ["", "conv_c", "conv_a/inner", None])
def test_bad_layer_names(tiny_model, bad):
    with pytest.raises(ValueError, match="conv_"):
        find_layer(tiny_model, bad)


def test_nested_feature_model_matches_the_model(nested_mobilenet, rng):
    x = rng.uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    sub = feature_model(nested_mobilenet, [NESTED, "head"])
    acts, head, logits = (np.asarray(t) for t in sub(x))
    assert acts.shape == (2, 7, 7, 320)
    np.testing.assert_allclose(logits, np.asarray(nested_mobilenet(x)), atol=1e-5)
    np.testing.assert_allclose(head, logits, atol=1e-6)
    # the hand-built reference: the inner model's own sub-model on the same input
    import keras

    base = nested_mobilenet.layers[0]
    ref = keras.Model(base.input, base.get_layer("block_16_project").output)(x)
    np.testing.assert_allclose(acts, np.asarray(ref), atol=1e-5)


def test_nested_in_functional_model(nested_mobilenet, rng):
    import keras

    base = nested_mobilenet.layers[0]
    inputs = keras.Input((224, 224, 3))
    outer = keras.Model(inputs, keras.layers.Dense(2, name="top")(base(inputs)))
    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    acts, logits = (np.asarray(t) for t in feature_model(outer, NESTED)(x))
    assert acts.shape == (1, 7, 7, 320)
    np.testing.assert_allclose(logits, np.asarray(outer(x)), atol=1e-5)


def test_feature_models_are_cached_and_model_untouched(tiny_model):
    n_layers, n_weights = len(tiny_model.layers), len(tiny_model.weights)
    a = feature_model(tiny_model, ["conv_a", "conv_b"])
    assert feature_model(tiny_model, ("conv_a", "conv_b")) is a
    assert feature_model(tiny_model, "conv_b") is not a
    assert len(tiny_model.layers) == n_layers and len(tiny_model.weights) == n_weights
    assert a.get_layer("conv_a") is tiny_model.get_layer("conv_a")  # shared weights, not a copy


def test_get_activations_batches(tiny_model, rng):
    x = rng.uniform(0, 1, (5, 8, 8, 3)).astype("float32")
    single = get_activations(tiny_model, x, "conv_b", batch_size=2)
    both = get_activations(tiny_model, x, ["conv_a", "conv_b"], batch_size=3)
    assert single.shape == (5, 8, 8, 6) and [a.shape for a in both] == [(5, 8, 8, 4), (5, 8, 8, 6)]
    np.testing.assert_allclose(single, both[1], atol=1e-6)
    assert (single >= 0).all()  # ReLU outputs


def test_default_batches_bound_the_pixels_per_pass(tiny_model):
    from course_utils.base import batch_for

    assert batch_for(np.zeros((100, 64, 64, 3)), None) == 64
    assert batch_for(np.zeros((22, 224, 224, 3)), None) == 5
    assert batch_for(np.zeros((1, 4096, 4096, 3)), None) == 1
    assert batch_for(np.zeros((22, 224, 224, 3)), 16) == 16
    with pytest.raises(ValueError, match="batch_size=0"):
        batch_for(np.zeros((2, 8, 8, 3)), 0)
    x = np.random.default_rng(0).random((70, 8, 8, 3), np.float32)
    np.testing.assert_allclose(get_activations(tiny_model, x, "conv_b"),
                               get_activations(tiny_model, x, "conv_b", batch_size=7), atol=1e-6)


def test_compiled_features_match_the_eager_pass_and_trace_once(tiny_model, rng):
    from course_utils.activations import compiled_features

    x = rng.uniform(0, 1, (5, 8, 8, 3)).astype("float32")
    eager = get_activations(tiny_model, x, ["conv_a", "conv_b"])
    compiled = get_activations(tiny_model, x, ["conv_a", "conv_b"], compiled=True, batch_size=2)  # batches 2, 2, 1
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert compiled_features(tiny_model, ["conv_a", "conv_b"]).experimental_get_tracing_count() == 1


def test_activation_grid_with_peaks_keeps_a_weak_channel_dark():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plotting

    acts = np.zeros((4, 4, 2), np.float32)
    acts[1, 1] = (2.0, 0.5)  # channel 1 fires a quarter as strongly as channel 0
    brightest = lambda fig, cell: fig.axes[0].images[0].get_array()[:4, cell * 5:cell * 5 + 4].max()  # noqa: E731
    own = plotting.activation_grid(acts)
    shared = plotting.activation_grid(acts, peaks=[2.0, 2.0])
    try:
        assert np.isclose(brightest(own, 1), brightest(own, 0))  # each map to its own maximum: both look the same
        assert brightest(shared, 1) < 0.8 * brightest(shared, 0)  # one scale: the weak channel stays darker
    finally:
        plt.close("all")

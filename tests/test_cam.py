"""course_utils.cam and the deletion/insertion metrics: on a tiny GAP model (exact identities), the bundled
models (localization), a keras.applications architecture with weights=None (the ImageNet tier's path)."""

import numpy as np
import pytest

from course_utils import cam
from course_utils.data import FashionScenes
from course_utils.metrics import auc, perturbation_curves, pointing_game
from course_utils.models import load_model


@pytest.fixture(scope="module")
def x8(rng):
    return rng.uniform(0, 1, (4, 8, 8, 3)).astype(np.float32)


def test_grad_cam_by_hand(tiny_model, x8):
    """Grad-CAM = ReLU(sum_k mean(dS/dA_k) A_k), computed here from layer_gradients."""
    acts, grads = cam.layer_gradients(tiny_model, x8, 1, "conv_b")
    want = np.maximum((grads.mean((1, 2), keepdims=True) * acts).sum(-1), 0)
    got = cam.grad_cam(tiny_model, x8, 1, "conv_b", upsample=False, normalize=False)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert cam.grad_cam(tiny_model, x8, 1, "conv_b").shape == (4, 8, 8)


def test_cam_equals_grad_cam_up_to_scale_on_gap_architecture(tiny_model, x8):
    """conv -> GAP -> Dense: dS_c/dA_k(i, j) = W[k, c] / (h w), so Grad-CAM = ReLU(CAM) / (h w)."""
    weights = cam.cam_weights(tiny_model, "conv_b")
    np.testing.assert_array_equal(weights, np.asarray(tiny_model.get_layer("logits").kernel))
    c = cam.cam(tiny_model, x8, 2, "conv_b", upsample=False, normalize=False, relu=True)
    g = cam.grad_cam(tiny_model, x8, 2, "conv_b", upsample=False, normalize=False)
    np.testing.assert_allclose(g * 64, c, rtol=1e-4, atol=1e-6)


def test_grad_cam_plus_plus_formula(tiny_model, x8):
    acts, g = cam.layer_gradients(tiny_model, x8, 0, "conv_b")
    denom = 2 * g ** 2 + acts.sum((1, 2), keepdims=True) * g ** 3
    alpha = np.where(denom != 0, g ** 2 / np.where(denom != 0, denom, 1), 0)
    want = np.maximum(((alpha * np.maximum(g, 0)).sum((1, 2), keepdims=True) * acts).sum(-1), 0)
    got = cam.grad_cam_plus_plus(tiny_model, x8, 0, "conv_b", upsample=False, normalize=False)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method", sorted(cam.METHODS))
def test_zero_gradient_gives_zero_map_not_nan(tiny_model, x8, method):
    if method in ("cam", "score_cam"):  # class indices only
        maps = cam.METHODS[method](tiny_model, np.zeros_like(x8), 0, "conv_b")  # biases only: a constant map
    else:
        maps = cam.METHODS[method](tiny_model, x8, lambda logits: 0.0 * logits[:, 0], "conv_b")
    assert np.isfinite(maps).all() and maps.max() <= 1


def test_bad_arguments_name_the_value_and_the_choices(tiny_model, x8):
    with pytest.raises(ValueError, match=r"layer='gap'.*spatial.*conv_b"):
        cam.grad_cam(tiny_model, x8, 0, "gap")
    with pytest.raises(ValueError, match="target=3.*0, 2"):
        cam.grad_cam(tiny_model, x8, 3, "conv_b")
    with pytest.raises(ValueError, match="conv_b"):
        cam.grad_cam(tiny_model, x8, 0, "conv_c")
    with pytest.raises(ValueError, match="method='cam2'"):
        cam.heatmap(tiny_model, x8, 0, "conv_b", "cam2")
    with pytest.raises(ValueError, match="layer='conv_a'.*global-average-pooling"):
        cam.cam(tiny_model, x8, 0, "conv_a")  # 4 maps, but the Dense reads 6
    with pytest.raises(ValueError, match="callable"):
        cam.cam(tiny_model, x8, lambda logits: logits[:, 0], "conv_b")


def test_spatial_layers(tiny_model):
    assert cam.spatial_layers(tiny_model) == ["conv_a", "conv_b"]


@pytest.fixture(scope="module")
def scenes():
    return FashionScenes("test", seed=7).generate(48)


@pytest.mark.parametrize("name", ["fashion_gap", "fashion_vgg"])
def test_bundled_heatmaps_point_at_the_item(name, scenes):
    cm = load_model(name)
    x = cm.preprocess(scenes.images)
    heat = cam.grad_cam(cm.model, x, scenes.label, cm.last_conv_layer)
    rate = pointing_game(heat, scenes.masks[:, 0], tolerance=4).mean()
    assert rate > 0.6  # random maps: about 0.3 with this tolerance
    if name == "fashion_gap":  # the GAP head: CAM is Grad-CAM at the class maps
        c = cam.cam(cm.model, x, scenes.label, "class_conv", relu=True)
        np.testing.assert_allclose(c, heat, atol=1e-4)


def test_guided_grad_cam_on_nested_imagenet_architecture(nested_mobilenet, rng):
    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    layers = cam.spatial_layers(nested_mobilenet)
    assert layers[-1] == "mobilenetv2_1.00_224/out_relu"
    for method in ("grad_cam", "grad_cam_plus_plus", "guided_grad_cam"):
        maps = cam.heatmap(nested_mobilenet, x, 1, layers[-1], method)
        assert maps.shape == (1, 224, 224) and np.isfinite(maps).all()
    with pytest.raises(ValueError, match="global-average-pooling"):  # GAP -> Dense(1000) -> Dense(4)
        cam.cam(nested_mobilenet, x, 1, layers[-1])


def test_perturbation_curves_reward_the_true_evidence(scenes):
    cm = load_model("fashion_vgg")
    masks = scenes.masks[:16, 0].astype(np.float32)
    flat = np.random.default_rng(0).uniform(size=masks.shape)
    good = perturbation_curves(cm.predict, scenes.images[:16], masks, scenes.label[:16], steps=8)
    bad = perturbation_curves(cm.predict, scenes.images[:16], flat, scenes.label[:16], steps=8)
    assert good["deletion"].shape == (16, 9) and good["fractions"][-1] == 1
    np.testing.assert_allclose(good["deletion"][:, 0], good["insertion"][:, -1])  # both: the untouched image
    assert auc(good["deletion"]).mean() < auc(bad["deletion"]).mean()
    assert auc(good["insertion"]).mean() > auc(bad["insertion"]).mean()
    assert auc(np.ones((2, 5))).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="substrate='noise'"):
        perturbation_curves(cm.predict, scenes.images[:2], masks[:2], 0, substrate="noise")


def test_layers_compiled_together_give_each_layer_its_own_gradients(x8):
    import keras

    from course_utils.base import model_cache

    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    b = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="b")(a)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(b)))
    alone = {layer: cam.layer_gradients(model, x8, 1, layer) for layer in ("a", "b")}  # one trace per layer
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    cam.compile_layers(twin, ["a", "b"])
    for layer in ("a", "b"):
        for mine, theirs in zip(cam.layer_gradients(twin, x8, 1, layer), alone[layer]):
            np.testing.assert_allclose(mine, theirs, atol=1e-5)
    traced = [f for f in model_cache(twin, "cam").values() if hasattr(f, "experimental_get_tracing_count")]
    assert len(traced) == 1 and traced[0].experimental_get_tracing_count() == 1  # both layers, one trace


def test_layer_cam_by_hand(tiny_model, x8):
    """LayerCAM = ReLU(sum_k ReLU(dS/dA_k) A_k) at every position; on a GAP head the gradient is W[k, c] / (h w)
    everywhere, so it weighs the maps by the positive classifier weights only."""
    acts, grads = cam.layer_gradients(tiny_model, x8, 1, "conv_b")
    want = np.maximum((np.maximum(grads, 0) * acts).sum(-1), 0)
    np.testing.assert_allclose(cam.layer_cam(tiny_model, x8, 1, "conv_b", upsample=False, normalize=False), want,
                               rtol=1e-5, atol=1e-7)
    w = np.asarray(tiny_model.get_layer("logits").kernel)[:, 1]
    np.testing.assert_allclose(want, np.maximum(acts @ np.maximum(w, 0) / 64, 0), rtol=1e-4, atol=1e-7)


def test_score_cam_by_hand(tiny_model, x8):
    """Score-CAM: weight of map k = softmax probability of the target on x * (A_k resized, scaled to [0, 1])."""
    import tensorflow as tf

    acts = cam.get_activations(tiny_model, x8, "conv_b")  # (4, 8, 8, 6): already the input's size
    want = []
    for i in range(len(x8)):
        a = np.moveaxis(acts[i], -1, 0)
        masks = (a - a.min((1, 2), keepdims=True)) / (np.ptp(a, (1, 2), keepdims=True) + 1e-7)
        probs = tf.nn.softmax(tiny_model(x8[i] * masks[..., None])).numpy()[:, 2]
        want.append(np.maximum(acts[i] @ probs, 0))
    got = cam.score_cam(tiny_model, x8, 2, "conv_b", upsample=False, normalize=False, batch_size=4)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-7)
    faster = cam.score_cam(tiny_model, x8[:1], 2, "conv_b", max_channels=2, upsample=False, normalize=False)
    top = np.argsort(-acts[0].std((0, 1)))[:2]
    a = np.moveaxis(acts[0][..., np.sort(top)], -1, 0)
    masks = (a - a.min((1, 2), keepdims=True)) / (np.ptp(a, (1, 2), keepdims=True) + 1e-7)
    probs = tf.nn.softmax(tiny_model(x8[0] * masks[..., None])).numpy()[:, 2]
    np.testing.assert_allclose(faster[0], np.maximum(acts[0][..., np.sort(top)] @ probs, 0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["layer_cam", "score_cam"])
@pytest.mark.parametrize("name", ["fashion_gap", "fashion_vgg"])
def test_new_methods_point_at_the_item(name, method, scenes):
    cm = load_model(name)
    heat = cam.heatmap(cm.model, cm.preprocess(scenes.images), scenes.label, cm.last_conv_layer, method)
    assert pointing_game(heat, scenes.masks[:, 0], tolerance=4).mean() > 0.6  # random maps: about 0.3

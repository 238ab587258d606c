"""course_utils.embedding and embedding_explorer: activation vectors, 2-D layouts, grid binning and atlas
rendering, on the bundled architecture and on a keras.applications one (MobileNetV2, weights=None, 64x64
inputs, nested in a Sequential: the ImageNet tier's code path at a small cost)."""

import dataclasses

import numpy as np
import pytest

from course_utils import embedding as E
from course_utils import optimization as O
from course_utils.activations import get_activations
from course_utils.data import CLASS_NAMES, FashionScenes
from course_utils.models import SPECS, CourseModel


@pytest.fixture(scope="module")
def cm():
    """The bundled VGG-style architecture with random weights (nothing here needs trained ones)."""
    import keras

    from course_utils.train import build_fashion_vgg

    keras.utils.set_random_seed(0)
    return CourseModel("fashion_vgg", build_fashion_vgg(), SPECS["fashion_vgg"], CLASS_NAMES)


@pytest.fixture(scope="module")
def mobilenet():
    """MobileNetV2(weights=None) at 64x64, nested in a Sequential, with its ImageNet-tier preprocessing."""
    import keras

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3), include_top=False)
    model = keras.Sequential([keras.Input((64, 64, 3)), base, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(4, name="head")], name="wrapped")
    return CourseModel("mobilenet_v2", model, dataclasses.replace(SPECS["mobilenet_v2"], size=64),
                       tuple("abcd")), f"{base.name}/block_6_project"


@pytest.fixture(scope="module")
def scenes():
    return FashionScenes("test", seed=0).generate(40)


def _clusters(n=120, dims=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), n // k)
    return (rng.normal(size=(n, dims)) + 6 * np.eye(k, dims)[labels]).astype(np.float32), labels


def test_layer_vectors_are_spatial_means_and_one_pass_serves_many_layers(cm, scenes):
    x = cm.preprocess(scenes.images[:5])
    v = E.layer_vectors(cm, scenes.images[:5], "block3_conv2", batch_size=2)
    np.testing.assert_allclose(v, get_activations(cm.model, x, "block3_conv2").mean((1, 2)), rtol=1e-5, atol=1e-6)
    both, logits = E.layer_vectors(cm, scenes.images[:5], ["block2_conv2", "block4_conv2"], logits=True)
    assert {k: a.shape for k, a in both.items()} == {"block2_conv2": (5, 24), "block4_conv2": (5, 96)}
    np.testing.assert_allclose(logits, cm.model(x).numpy(), rtol=1e-4, atol=1e-5)
    assert E.layer_vectors(cm, scenes.images[:3], "fc1").shape == (3, 256)  # a dense layer is used as it is


def test_layer_vectors_at_peak_take_each_images_longest_position_vector(cm, scenes):
    acts = get_activations(cm.model, cm.preprocess(scenes.images[:5]), "block3_conv2").reshape(5, -1, 48)
    longest = acts[np.arange(5), (acts ** 2).sum(-1).argmax(1)]
    peak, logits = E.layer_vectors(cm, scenes.images[:5], "block3_conv2", batch_size=2, logits=True, at="peak")
    np.testing.assert_allclose(peak, longest, rtol=1e-5, atol=1e-6)
    assert logits.shape == (5, 10)  # the logits stay logits, never "peaked"
    assert not np.allclose(peak, acts.mean(1))
    with pytest.raises(ValueError, match="at='max'.*'mean', 'peak'"):
        E.layer_vectors(cm, scenes.images[:2], "block3_conv2", at="max")


def test_layer_vectors_nested_imagenet_architecture(mobilenet, scenes):
    cm, layer = mobilenet
    v = E.layer_vectors(cm, scenes.images[:3], layer)
    assert v.shape == (3, 64) and np.isfinite(v).all()


def test_layer_vectors_bad_arguments(cm, scenes):
    with pytest.raises(ValueError, match="block9_conv1.*Valid conv layers"):
        E.layer_vectors(cm, scenes.images[:2], "block9_conv1")
    bad = scenes.images[:2].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        E.layer_vectors(cm, bad, "block3_conv2")
    with pytest.raises(ValueError, match="layers=\\[\\]"):
        E.layer_vectors(cm, scenes.images[:2], [])


@pytest.mark.parametrize("method", ["tsne", "umap", "pca"])
def test_project_is_deterministic_memoized_and_keeps_clusters(method):
    v, labels = _clusters()
    xy = E.project(v, method, seed=1)
    assert xy.shape == (120, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    E._LAYOUTS.clear()  # recompute, not recall: the same seed gives the same points
    np.testing.assert_array_equal(E.project(v, method, seed=1), xy)
    xy[:] = 0  # a caller scribbling on its copy does not touch the memo
    assert np.abs(E.project(v, method, seed=1)).max() > 0
    assert E.knn_agreement(E.project(v, method, seed=1), labels, k=5) > 0.95


def test_project_bad_arguments():
    v, _ = _clusters(n=30)
    cases = [(dict(method="t-sne"), "method='t-sne'.*'tsne', 'umap', 'pca'"),
             (dict(method="tsne", perplexity=30), "perplexity=30 with 30 points"),
             (dict(method="umap", n_neighbors=1), "n_neighbors=1.*2 <= n_neighbors < 30"),
             (dict(method="pca", perplexity=5), "pca' takes no parameters")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            E.project(v, **kwargs)
    with pytest.raises(ValueError, match="1 NaN"):
        E.project(np.where(np.arange(v.size).reshape(v.shape) == 3, np.nan, v))
    with pytest.raises(ValueError, match="expected \\(N, C\\)"):
        E.project(v[:, 0])


def test_grid_cells_on_hand_made_points():
    xy = np.array([[0, 0], [0.2, 0.1], [1, 1], [0, 1], [1, 0], [0.9, 0.45]], np.float32)
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    g = E.grid_cells(xy, vectors, grid=2, min_count=2)
    # row 0 is the top (large y): (0, 1) -> row 0 col 0; (1, 1) -> row 0 col 1; the maximum lands in the last cell
    np.testing.assert_array_equal(g.cell, [2, 2, 1, 0, 3, 3])
    np.testing.assert_array_equal(g.counts, [[1, 1], [2, 2]])
    np.testing.assert_array_equal(g.filled, [[False, False], [True, True]])
    np.testing.assert_allclose(g.means[1, 0], vectors[[0, 1]].mean(0))
    np.testing.assert_allclose(g.means[1, 1], vectors[[4, 5]].mean(0))
    assert (g.means[0] == 0).all() and np.isfinite(g.means).all() and g.n_filled == 2  # empty cells: zeros
    np.testing.assert_array_equal(g.members(1, 1), [4, 5])
    assert g.cell_box(0, 1) == (0.5, 1.0, 0.5, 1.0)
    one = E.grid_cells(np.zeros((4, 2)), grid=3, min_count=1)  # all points equal: one cell, no division by 0
    assert one.counts.sum() == 4 and one.n_filled == 1 and one.means is None


def test_grid_cells_over_a_given_extent_put_outside_points_at_the_edge():
    xy = np.array([[0.1, 0.1], [0.9, 0.9], [5.0, -5.0], [-1.0, 0.6]], np.float32)
    g = E.grid_cells(xy, grid=2, min_count=1, extent=(0.0, 1.0, 0.0, 1.0))
    np.testing.assert_array_equal(g.cell, [2, 1, 3, 0])  # (5, -5): bottom right; (-1, 0.6): top left
    assert g.extent == (0.0, 1.0, 0.0, 1.0)
    for extent, message in [((0, 1, 0), "expected \\(x0, x1, y0, y1\\)"), ((1, 0, 0, 1), "x1 > x0"),
                            ((0, 1, 0, np.nan), "extent\\[3\\]=nan")]:
        with pytest.raises(ValueError, match=message):
            E.grid_cells(xy, extent=extent)


def test_cell_majority_and_captions_on_hand_made_cells():
    xy = np.array([[0, 0], [0.1, 0.1], [0.2, 0], [1, 1], [0.9, 0.9], [0.4, 0.4]], np.float32)
    g = E.grid_cells(xy, grid=2, min_count=2)  # bottom left: points 0, 1, 2, 5; top right: 3, 4
    label, share = E.cell_majority(g, np.array([3, 3, 1, 0, 2, 3]))
    np.testing.assert_array_equal(label, [[-1, 0], [3, -1]])  # a tie goes to the smaller label
    np.testing.assert_allclose(share, [[0, 0.5], [0.75, 0]])
    captions = E.majority_captions(g, np.array([3, 3, 1, 0, 2, 3]), ["a", "b", "c", "d"])
    assert captions.tolist() == [["", "a 50%"], ["d 75%", ""]]
    for bad in (np.zeros(5, int), np.full(6, -1), np.zeros(6)):
        with pytest.raises(ValueError, match="expected \\(6,\\) whole numbers >= 0"):
            E.cell_majority(g, bad)
    with pytest.raises(ValueError, match="labels reach 3 but there are 2 class names"):
        E.majority_captions(g, np.array([3, 3, 1, 0, 2, 3]), ["a", "b"])


def test_align_undoes_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 2)).astype(np.float32)
    angle = 0.7
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (ref * [1, -1]) @ turn * 3.0 + [10, -4]  # reflected, rotated, scaled, shifted
    aligned, rho = E.align(ref, moved)
    np.testing.assert_allclose(aligned, ref, atol=1e-4)
    assert rho == pytest.approx(1.0, abs=1e-6)
    noisy, rho_noisy = E.align(ref, moved + rng.normal(scale=3.0, size=moved.shape))
    assert 0.3 < rho_noisy < 0.95 and np.allclose(noisy.std(), ref.std(), rtol=0.05)  # the spread is the reference's
    assert E.align(ref, rng.normal(size=(50, 2)))[1] < 0.4  # unrelated points: low
    with pytest.raises(ValueError, match="reference has 50 points and xy 49"):
        E.align(ref, moved[:49])
    with pytest.raises(ValueError, match="all its points in one place"):
        E.align(ref, np.ones((50, 2)))


def test_grid_cells_bad_arguments():
    xy = np.random.default_rng(0).random((10, 2))
    for grid in (0, 2.5, True, 101):
        with pytest.raises(ValueError, match=f"grid={grid!r}"):
            E.grid_cells(xy, grid=grid)
    with pytest.raises(ValueError, match="min_count=0"):
        E.grid_cells(xy, min_count=0)
    with pytest.raises(ValueError, match="expected \\(N, 2\\)"):
        E.grid_cells(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        E.grid_cells(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="vectors have 9 rows and xy 10"):
        E.grid_cells(xy, np.zeros((9, 4)))
    with pytest.raises(ValueError, match="k=10 with 10 points"):
        E.knn_agreement(xy, np.zeros(10), k=10)


def test_directions_is_direction_per_image_and_ascent_raises_it(cm):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    acts = {"a": tf.constant(rng.random((2, 4, 4, 5), np.float32))}
    v = rng.normal(size=(2, 5)).astype(np.float32)
    ours = E.directions("a", v)(acts).numpy()
    for i in range(2):
        np.testing.assert_allclose(ours[i], O.direction("a", v[i])(acts).numpy()[i], rtol=1e-5)
    assert (E.directions("a", v, cossim_pow=2)(acts).numpy() <= np.abs(ours) + 1e-6).all()
    target = E.layer_vectors(cm, FashionScenes("test", seed=1).generate(2).images, "block3_conv2")
    renderer = O.Renderer(cm, E.directions("block3_conv2", target), O.Fourier(2, 64, std=0.5), transforms=(),
                          learning_rate=0.1)
    history = renderer.run(3, progress=False)[1]
    assert (history[-1] > history[0]).all()
    centre = E.directions("a", v, centre=True)(acts).numpy()  # the dot product at the centre position only
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(centre, (acts["a"].numpy()[:, 2, 2] * unit).sum(-1), rtol=1e-5)


def test_atlas_on_bundled_architecture_reuses_its_compiled_loop(cm, scenes):
    v = E.layer_vectors(cm, scenes.images, "block3_conv2")
    xy = E.project(v, "pca")
    result = E.atlas(cm, "block3_conv2", v, xy, grid=3, min_count=4, steps=2, batch=4, progress=False)
    assert result.icons.shape == (3, 3, 64, 64, 3) and np.isfinite(result.icons).all()
    filled = result.cells.filled
    assert 0 < filled.sum() < 9
    assert (result.icons[~filled] == 1).all() and (result.icons[filled] < 1).any(axis=(1, 2, 3)).all()
    assert result.mosaic().shape == (3 * 65 - 1, 3 * 65 - 1, 3)
    renderer, _ = E._renderer(cm, "block3_conv2", 4, 2.0, 0.1, 0, False)
    traces = renderer._step.experimental_get_tracing_count()
    E.render_directions(cm, "block3_conv2", v[:3], steps=2, batch=4, progress=False)  # a new call, a short batch
    assert renderer._step.experimental_get_tracing_count() == traces  # the compiled loop is reused, not retraced
    with pytest.raises(ValueError, match="vectors have 48 channels but block4_conv2 has 96"):
        E.atlas(cm, "block4_conv2", v, xy, grid=2, steps=1, progress=False)
    centred = E.atlas(cm, "block3_conv2", v, xy, grid=3, min_count=4, steps=2, batch=4, progress=False, centre=True,
                      extent=result.cells.extent)
    np.testing.assert_array_equal(centred.cells.cell, result.cells.cell)  # the same grid, other icons
    assert E._renderer(cm, "block3_conv2", 4, 2.0, 0.1, 0, True)[0] is not renderer


def test_atlas_on_imagenet_architecture(mobilenet, scenes):
    cm, layer = mobilenet
    v = E.layer_vectors(cm, scenes.images[:12], layer)
    result = E.atlas(cm, layer, v, E.project(v, "pca"), grid=2, min_count=2, steps=2, progress=False)
    assert result.icons.shape == (2, 2, 64, 64, 3) and 0 <= result.icons.min() and result.icons.max() <= 1


def test_embedding_explorer_controls_change_the_picture(cm, scenes):
    from course_utils.widgets import embedding_explorer

    box = embedding_explorer(cm, scenes.images, scenes.label, layers=["block3_conv2", "block4_conv2"],
                             methods=("pca", "tsne"), grid=4)
    layer_d, method_d, param_s, row_s, col_s = box.controls.values()
    assert list(box.controls) == ["layer", "method", "parameter", "cell row", "cell column"]
    assert param_s.disabled and bytes(box.figure.value).startswith(b"\xff\xd8")  # a JPEG
    seen = {bytes(box.figure.value)}
    for widget, value in [(row_s, 0), (col_s, 3), (layer_d, "block3_conv2"), (method_d, "tsne"), (param_s, 10)]:
        widget.value = value
        seen.add(bytes(box.figure.value))
    assert len(seen) == 6
    assert param_s.description == "perplexity" and not param_s.disabled


def test_channel_profiles_scale_each_channel_and_leave_out_dead_ones():
    m = np.array([[0.0, 2.0, 0.0, 1.0], [0.0, 4.0, 0.0, 3.0], [0.0, 1.0, 0.0, 6.0]], np.float32)  # (N=3, C=4)
    profiles, alive = E.channel_profiles(m)
    assert alive.tolist() == [1, 3]  # channels 0 and 2 never fire
    np.testing.assert_allclose(profiles, [[0.5, 1.0, 0.25], [1 / 6, 0.5, 1.0]])
    assert profiles.dtype == np.float32 and profiles.max(1).tolist() == [1.0, 1.0]

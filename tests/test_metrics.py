import numpy as np
import pytest

from course_utils.metrics import (auc, cascading_randomization, energy_on_mask, pointing_game,
                                  random_pointing_baseline, rank_correlation)


def test_pointing_game_hits_and_misses():
    masks = np.zeros((2, 8, 8), bool)
    masks[:, 2:4, 2:4] = True
    maps = np.zeros((2, 8, 8))
    maps[0, 3, 3] = 1  # on the object
    maps[1, 6, 6] = 1  # off it
    assert pointing_game(maps, masks).tolist() == [True, False]
    assert pointing_game(maps, masks, tolerance=3).tolist() == [True, True]
    low_res = np.zeros((2, 4, 4))
    low_res[:, 1, 1] = 1  # a coarse map is resized to the mask size first
    assert pointing_game(low_res, masks).all()
    assert random_pointing_baseline(masks) == pytest.approx(4 / 64)


def test_energy_on_mask_is_the_share_of_positive_mass_on_the_mask():
    masks = np.zeros((3, 4, 4), bool)
    masks[:, :2, :2] = True  # the top left quarter
    maps = np.zeros((3, 4, 4), np.float32)
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # 3 of 4 units on the mask
    maps[1, 3, 3], maps[1, 0, 0] = 2.0, -5.0  # negative values count as 0: nothing on the mask
    share = energy_on_mask(maps, masks)  # map 2 is all zero: no preference, the mask's area (1/4)
    np.testing.assert_allclose(share, [0.75, 0.0, 0.25])
    coarse = np.array([[[1.0, 0.0], [0.0, 0.0]]], np.float32)  # 2x2 map resized to the 4x4 mask
    assert energy_on_mask(coarse, masks[:1])[0] > 0.7  # bilinear resizing spreads a little
    with pytest.raises(ValueError, match="expected \\(N, h, w\\) and \\(N, H, W\\)"):
        energy_on_mask(maps[:2], masks)


def test_pointing_game_bad_shapes():
    with pytest.raises(ValueError, match=r"\(2, 8\)"):
        pointing_game(np.zeros((2, 8)), np.zeros((2, 8, 8), bool))


def test_rank_correlation():
    rng = np.random.default_rng(0)
    a = rng.random((3, 5, 5))
    np.testing.assert_allclose(rank_correlation(a, a ** 3), 1)  # monotone transform: same ranks
    np.testing.assert_allclose(rank_correlation(a, -a), -1)
    assert rank_correlation(a, np.zeros_like(a)).tolist() == [0, 0, 0]  # constant map, no NaN
    assert abs(rank_correlation(a, rng.random((3, 5, 5))).mean()) < 0.3


def test_cascading_randomization_leaves_the_model_alone(tiny_model):
    before = [w.copy() for w in tiny_model.get_weights()]
    steps = list(cascading_randomization(tiny_model, ["logits", "conv_b"]))
    assert [name for name, _ in steps] == ["logits", "conv_b"]
    copy = steps[-1][1]
    assert not np.allclose(copy.get_layer("conv_b").get_weights()[0], tiny_model.get_layer("conv_b").get_weights()[0])
    np.testing.assert_array_equal(copy.get_layer("conv_a").get_weights()[0], tiny_model.get_layer("conv_a").get_weights()[0])
    for w, b in zip(tiny_model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    with pytest.raises(ValueError, match="'gap'"):
        list(cascading_randomization(tiny_model, ["gap"]))


def test_psnr_and_ssim():
    from course_utils.metrics import psnr, ssim

    rng = np.random.default_rng(0)
    a = rng.random((2, 32, 32, 3)).astype("float32")
    noisy = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype("float32")
    assert (psnr(a, a) > 100).all() and np.allclose(ssim(a, a), 1)
    assert 15 < psnr(a, noisy).mean() < 25 and (ssim(a, noisy) < 0.95).all()
    assert (psnr(a, np.clip(a + 0.01, 0, 1)) > psnr(a, noisy)).all()


def test_mean_interval_covers_the_mean_and_shrinks_with_more_items():
    from course_utils.metrics import mean_interval

    rng = np.random.default_rng(0)
    few, many = rng.random(20) < 0.7, rng.random(2000) < 0.7
    m, lo, hi = mean_interval(few)
    assert lo <= m <= hi and m == few.mean()
    m2, lo2, hi2 = mean_interval(many)
    assert hi2 - lo2 < (hi - lo) / 5 and lo2 < 0.7 < hi2  # about 1/sqrt(100) as wide, around the true rate
    assert np.isclose(hi2 - lo2, 2 * 1.96 * np.sqrt(0.21 / 2000), rtol=0.15)  # the normal approximation
    assert mean_interval(few) == (m, lo, hi)  # seeded: the same on every run
    assert mean_interval(np.ones(5)) == (1.0, 1.0, 1.0)


def test_rank_correlation_equals_scipy_on_tied_maps():
    """Average ranks for ties, as scipy's Spearman: sparse (ReLU'd) maps and one-hot maps are all ties."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(3)
    sparse = np.where(rng.random((6, 12, 12)) < 0.8, 0.0, rng.random((6, 12, 12)))  # 80% zeros
    sparse_b = np.where(rng.random((6, 12, 12)) < 0.8, 0.0, rng.random((6, 12, 12)))
    coarse = np.round(rng.random((6, 12, 12)) * 3)  # four levels: ties everywhere
    one_hot = np.zeros((2, 8, 8)); one_hot[0, 1, 1] = one_hot[1, 6, 5] = 1
    for a, b in ((sparse, sparse_b), (sparse, coarse), (one_hot[:1], one_hot[1:])):
        ref = [spearmanr(u.ravel(), v.ravel())[0] for u, v in zip(a, b)]
        np.testing.assert_allclose(rank_correlation(a, b), ref, atol=1e-12)
    assert abs(rank_correlation(sparse, sparse_b).mean()) < 0.15  # unrelated sparse maps do not agree
    assert rank_correlation(one_hot[:1], np.zeros((1, 8, 8))).tolist() == [0.0]  # constant: 0, scipy says NaN


@pytest.mark.parametrize("k, n", [(0, 20), (20, 20), (7, 20), (150, 200), (1, 1)])
def test_rate_interval_is_scipys_wilson_interval(k, n):
    from scipy.stats import binomtest

    from course_utils.metrics import rate_interval

    rate, lo, hi = rate_interval(np.r_[np.ones(k, bool), np.zeros(n - k, bool)])
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert rate == k / n and lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert hi - lo > 0.05  # never zero-width, at 0% and 100% too
    assert lo <= rate <= hi  # also where round-off puts the bound a hair past the rate (1.0 at 20/20)


@pytest.mark.parametrize("bad", [[], [0.5, 1.0], [[1, 0]], [np.nan]])
def test_rate_interval_bad_hits(bad):
    from course_utils.metrics import rate_interval

    with pytest.raises(ValueError, match="hits"):
        rate_interval(np.asarray(bad, float))


def test_model_free_maps_point_at_a_bright_square_without_a_model():
    from course_utils.metrics import MODEL_FREE, model_free_maps

    images = np.full((3, 32, 32, 3), 0.2, np.float32)
    masks = np.zeros((3, 32, 32), bool)
    for i, (y, x) in enumerate([(2, 3), (20, 18), (4, 22)]):
        images[i, y:y + 6, x:x + 6] = 0.9
        masks[i, y:y + 6, x:x + 6] = True
    maps = model_free_maps(images)
    assert tuple(maps) == MODEL_FREE and all(m.shape == (3, 32, 32) and np.isfinite(m).all() for m in maps.values())
    assert pointing_game(maps["contrast"], masks).all() and pointing_game(maps["brightness"], masks).all()
    from scipy.ndimage import binary_dilation

    border = np.stack([binary_dilation(m, np.ones((3, 3))) for m in masks])
    assert energy_on_mask(maps["edges"], border).min() > 0.99  # the edges are the square's border, nothing else
    assert np.unravel_index(maps["centre"][0].argmax(), (32, 32)) in {(15, 15), (15, 16), (16, 15), (16, 16)}
    np.testing.assert_array_equal(maps["random"], model_free_maps(images)["random"])  # seeded
    with pytest.raises(ValueError, match="images"):
        model_free_maps(np.zeros((32, 32, 3)))


@pytest.mark.parametrize("grid, size", [(2, 224), (3, 224), (3, 10)])
def test_mosaic_and_tile_masks_agree(grid, size):
    """Each tile of the mosaic holds its photo, and its mask covers exactly the tile: the tiles partition it."""
    from course_utils.images import mosaic
    from course_utils.metrics import tile_masks

    colours = np.linspace(0.1, 0.9, grid * grid)
    photos = np.broadcast_to(colours[:, None, None, None], (grid * grid, 20, 30, 3)).astype(np.float32)
    m = mosaic(photos, grid, size)
    masks = tile_masks(grid, size, np.arange(grid * grid))
    assert m.shape == (size, size, 3) and masks.shape == (grid * grid, size, size)
    np.testing.assert_array_equal(masks.sum(0), 1)  # every pixel in exactly one tile
    for t in range(grid * grid):
        np.testing.assert_allclose(m[masks[t]], colours[t], atol=1 / 255)
    # the grid pointing game is energy_on_mask on these masks: a flat map scores the tile's area, ~ 1 / tiles
    flat = np.ones((1, size, size))
    assert energy_on_mask(flat, masks[:1])[0] == pytest.approx(masks[0].mean())


@pytest.mark.parametrize("tiles", [[4], [-1], [0.5]])
def test_tile_masks_bad_tiles(tiles):
    from course_utils.metrics import tile_masks

    with pytest.raises(ValueError, match="tiles"):
        tile_masks(2, 64, tiles)


def test_impute_linear_fills_a_hole_from_its_surroundings():
    from course_utils.metrics import impute_linear

    y, x = np.mgrid[0:16, 0:16] / 15.0
    ramp = np.stack([x, y, np.full_like(x, 0.5)], -1)[None]
    removed = np.zeros((1, 16, 16), bool)
    removed[0, 4:10, 5:12] = True
    out = impute_linear(ramp, removed, noise=0)
    np.testing.assert_allclose(out, ramp, atol=1e-6)  # the neighbour mean reproduces a linear ramp exactly
    noisy = impute_linear(ramp, removed, noise=0.05, seed=1)
    np.testing.assert_array_equal(noisy[~removed], out[~removed])  # kept pixels never change
    assert 0.02 < np.std(noisy[removed] - ramp[removed]) < 0.08
    np.testing.assert_array_equal(noisy, impute_linear(ramp, removed, noise=0.05, seed=1))  # seeded
    every = impute_linear(ramp, np.ones((1, 16, 16), bool), noise=0)
    np.testing.assert_allclose(every[0], np.broadcast_to(ramp[0].mean(axis=(0, 1)), (16, 16, 3)), atol=1e-6)
    with pytest.raises(ValueError, match="removed"):
        impute_linear(ramp, removed[0])


def test_road_ranks_a_map_of_the_evidence_above_its_opposite():
    """A toy model whose class-1 probability is the brightness of a square: the map of the square must delete
    (MoRF) faster and keep (LeRF) longer than the inverted map."""
    from course_utils.metrics import road_curves

    images = np.full((3, 16, 16, 3), 0.3, np.float32)
    images[:, 5:9, 5:9] = 0.9
    square = np.zeros((16, 16), bool)
    square[5:9, 5:9] = True

    def predict(batch):
        p = np.clip(batch[:, square].mean(axis=(1, 2)), 0, 1)
        return np.stack([1 - p, p], 1)

    good = np.broadcast_to(square, (3, 16, 16)).astype(np.float32)
    right, wrong = (road_curves(predict, images, m, 1, noise=0) for m in (good, 1 - good))
    area = lambda curves, kind: auc(curves[kind], curves["fractions"])
    assert right["morf"].shape == (3, 9) and (area(right, "morf") < area(wrong, "morf")).all()
    assert (area(right, "lerf") > area(wrong, "lerf")).all()
    with pytest.raises(ValueError, match="fractions"):
        road_curves(predict, images, good, 1, fractions=[0.5])

import numpy as np
import pytest

from course_utils.metrics import (cascading_randomization, energy_on_mask, pointing_game, random_pointing_baseline,
                                  rank_correlation)


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

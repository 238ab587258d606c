"""Is an explanation right? Scores that compare heatmaps with ground truth or with each other.

- :func:`pointing_game`  Zhang et al. 2016 (arXiv:1608.00507): does the map's maximum fall on the object?
- :func:`rank_correlation` Spearman correlation of two maps (Adebayo et al. 2018, arXiv:1810.03292)
- :func:`cascading_randomization` the model-randomization sanity check of Adebayo et al. 2018
- :func:`psnr`, :func:`ssim` image similarity (Wang et al. 2004) for feature inversion (notebook 03)

Introduced in notebooks/01_saliency_maps.ipynb.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def _resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from course_utils.plotting import upsample

    if maps.shape[1:] == tuple(size):
        return maps
    return np.stack([upsample(m, size) for m in maps])


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """``(N,)`` bool: whether the maximum of each heatmap ``(N, h, w)`` (resized to the masks'
    ``(N, H, W)`` size) lies on the mask, or within ``tolerance`` pixels of it. Ties: the first maximum."""
    heatmaps, masks = np.asarray(heatmaps, np.float32), np.asarray(masks, bool)
    if heatmaps.ndim != 3 or masks.ndim != 3 or len(heatmaps) != len(masks):
        raise ValueError(f"heatmaps {heatmaps.shape} and masks {masks.shape}: expected (N, h, w) and (N, H, W)")
    maps = _resize_maps(heatmaps, masks.shape[1:])
    h, w = masks.shape[1:]
    flat = maps.reshape(len(maps), -1).argmax(1)
    ys, xs = np.divmod(flat, w)
    hits = np.zeros(len(maps), bool)
    for i, (y, x) in enumerate(zip(ys, xs)):
        window = masks[i, max(0, y - tolerance): y + tolerance + 1, max(0, x - tolerance): x + tolerance + 1]
        hits[i] = window.any()
    return hits


def random_pointing_baseline(masks: np.ndarray) -> float:
    """Expected pointing-game hit rate of a map whose maximum falls uniformly at random: the mean
    fraction of the image covered by the mask."""
    return float(np.asarray(masks, bool).mean())


def _ranks(a: np.ndarray) -> np.ndarray:
    r = np.empty(a.shape[-1], np.float64)
    r[np.argsort(a, kind="stable")] = np.arange(a.shape[-1])
    return r


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps ``(N, H, W)`` -> ``(N,)`` (0 for a constant map)."""
    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    out = np.zeros(len(a))
    for i in range(len(a)):
        ra, rb = _ranks(a[i]), _ranks(b[i])
        ra, rb = ra - ra.mean(), rb - rb.mean()
        denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
        out[i] = (ra * rb).sum() / denom if denom > 0 and np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0 else 0.0
    return out


def cascading_randomization(model, layers: Sequence[str], seed: int = 0) -> Iterator[tuple[str, object]]:
    """Yield ``(layer, copy)`` where ``copy`` is a clone of ``model`` whose weights are re-initialized
    from the top (output) layer down to and including ``layer``, for each of ``layers`` given top-down.
    ``model`` itself is never modified."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    for name in layers:
        layer = copy.get_layer(name)
        if not layer.weights:
            raise ValueError(f"layer {name!r} has no weights to randomize; expected one of "
                             f"{[l.name for l in model.layers if l.weights]}")
        new = []
        for w in layer.get_weights():
            fan_in = int(np.prod(w.shape[:-1])) if w.ndim > 1 else 1
            new.append((rng.standard_normal(w.shape) * np.sqrt(2.0 / fan_in)).astype(w.dtype) if w.ndim > 1
                       else np.zeros_like(w))
        layer.set_weights(new)
        yield name, copy


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of image batches ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``."""
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5) of image batches
    ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``, via ``tf.image.ssim``."""
    import tensorflow as tf

    return tf.image.ssim(tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=1.0).numpy()

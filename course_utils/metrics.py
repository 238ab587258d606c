"""Is an explanation right? Scores that compare heatmaps with ground truth or with each other.

- :func:`pointing_game`  Zhang et al. 2016 (arXiv:1608.00507): does the map's maximum fall on the object?
- :func:`rank_correlation` Spearman correlation of two maps (Adebayo et al. 2018, arXiv:1810.03292)
- :func:`cascading_randomization` the model-randomization sanity check of Adebayo et al. 2018
- :func:`perturbation_curves`, :func:`auc` deletion and insertion (Petsiuk et al. 2018, arXiv:1806.07421):
  does the score fall fast when the map's top pixels go, and rise fast when they come back?
- :func:`psnr`, :func:`ssim` image similarity (Wang et al. 2004) for feature inversion (notebook 03)

Introduced in notebooks/01_saliency_maps.ipynb.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from course_utils.base import resize_maps


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """``(N,)`` bool: whether the maximum of each heatmap ``(N, h, w)`` (resized to the masks'
    ``(N, H, W)`` size) lies on the mask, or within ``tolerance`` pixels of it. Ties: the first maximum."""
    heatmaps, masks = np.asarray(heatmaps, np.float32), np.asarray(masks, bool)
    if heatmaps.ndim != 3 or masks.ndim != 3 or len(heatmaps) != len(masks):
        raise ValueError(f"heatmaps {heatmaps.shape} and masks {masks.shape}: expected (N, h, w) and (N, H, W)")
    if not np.isfinite(heatmaps).all():
        raise ValueError("heatmaps contain NaN or infinite values: expected finite maps")
    maps = resize_maps(heatmaps, masks.shape[1:])
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
    if np.ndim(masks) != 3 or len(masks) == 0:
        raise ValueError(f"masks of shape {np.shape(masks)}: expected at least one mask (N, H, W)")
    return float(np.asarray(masks, bool).mean())


def _ranks(a: np.ndarray) -> np.ndarray:
    r = np.empty(a.shape[-1], np.float64)
    r[np.argsort(a, kind="stable")] = np.arange(a.shape[-1])
    return r


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps ``(N, H, W)`` -> ``(N,)`` (0 for a constant map)."""
    _same_shape(a, b, "maps", "(N, H, W)")
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


def _same_shape(a, b, what: str, form: str) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{what} of shapes {np.shape(a)} and {np.shape(b)}: expected two batches of the same shape {form}")


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of image batches ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``."""
    _same_shape(a, b, "images", "(N, H, W, 3)")
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5) of image batches
    ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``, via ``tf.image.ssim``."""
    _same_shape(a, b, "images", "(N, H, W, 3)")
    import tensorflow as tf

    return tf.image.ssim(tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=1.0).numpy()


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``(N, H, W, 3)`` images over H and W (reflect padding)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, (0, sigma, sigma, 0), mode="reflect").astype(np.float32)


SUBSTRATES = ("blur", "mean", "zero")


def perturbation_curves(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, heatmaps: np.ndarray,
                        target, steps: int = 16, substrate: str = "blur", sigma: float = 4.0,
                        batch_size: int = 512) -> dict:
    """Deletion and insertion curves (Petsiuk et al. 2018) of ``heatmaps`` ``(N, h, w)`` for ``images``
    ``(N, H, W, 3)`` in [0, 1].

    Pixels are ranked by the heatmap (resized to the image, ties by position). For ``k = 0..steps`` the
    top ``k/steps`` of them are replaced by the ``substrate`` (deletion) or, starting from the substrate,
    put back (insertion), and ``predict`` (``images -> (N, classes)`` probabilities, e.g.
    ``CourseModel.predict``) scores the ``target`` class, about ``batch_size`` images per call. Substrates: ``"blur"`` (Gaussian, ``sigma``
    px), ``"mean"`` (the image's mean colour), ``"zero"`` (black).

    Returns ``{"fractions": (steps + 1,), "deletion": (N, steps + 1), "insertion": (N, steps + 1)}``.
    A good map has a low deletion AUC and a high insertion AUC (:func:`auc`).
    """
    images, heatmaps = np.asarray(images, np.float32), np.asarray(heatmaps, np.float32)
    if images.ndim != 4 or heatmaps.ndim != 3 or len(images) != len(heatmaps) or len(images) == 0:
        raise ValueError(f"images {images.shape} and heatmaps {heatmaps.shape}: expected (N, H, W, 3) and (N, h, w)")
    if substrate not in SUBSTRATES:
        raise ValueError(f"substrate={substrate!r}: expected one of {SUBSTRATES}")
    if steps < 1:
        raise ValueError(f"steps={steps!r}: expected >= 1")
    n, h, w = images.shape[:3]
    target = np.broadcast_to(np.asarray(target), (n,)).astype(np.int64)
    base = {"blur": lambda: _blur(images, sigma), "mean": lambda: np.broadcast_to(
        images.mean(axis=(1, 2), keepdims=True), images.shape), "zero": lambda: np.zeros_like(images)}[substrate]()
    order = np.argsort(-resize_maps(heatmaps, (h, w)).reshape(n, -1), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None], axis=1)
    rank = rank.reshape(n, h, w, 1)
    fractions = np.linspace(0, 1, steps + 1)
    kept = rank[:, None] < np.round(fractions * h * w).reshape(1, -1, 1, 1, 1)  # (N, K, H, W, 1): top pixels
    scores = np.zeros((n, 2, steps + 1))
    per = max(1, batch_size // (2 * (steps + 1)))
    for i in range(0, n, per):
        im, bs, top = images[i:i + per, None], base[i:i + per, None], kept[i:i + per]
        batch = np.stack([np.where(top, bs, im), np.where(top, im, bs)], 1)  # (n, 2, K, H, W, 3)
        probs = predict(batch.reshape(-1, h, w, 3)).reshape(*batch.shape[:3], -1)
        if target.min() < 0 or target.max() >= probs.shape[-1]:
            raise ValueError(f"target={target.max() if target.max() >= probs.shape[-1] else target.min()}: expected "
                             f"class indices in [0, {probs.shape[-1] - 1}]")
        scores[i:i + per] = np.take_along_axis(probs, target[i:i + per, None, None, None], -1)[..., 0]
    curves = {"deletion": scores[:, 0], "insertion": scores[:, 1]}
    return {"fractions": fractions, **curves}


def auc(curves: np.ndarray, fractions: np.ndarray | None = None) -> np.ndarray:
    """Area under each curve ``(N, K)`` over ``fractions`` in [0, 1] (trapezoidal) -> ``(N,)``."""
    curves = np.asarray(curves, np.float64)
    x = np.linspace(0, 1, curves.shape[-1]) if fractions is None else np.asarray(fractions)
    return np.trapezoid(curves, x, axis=-1)

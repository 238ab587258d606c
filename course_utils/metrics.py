"""Is an explanation right? Scores that compare heatmaps with ground truth or with each other.

- :func:`pointing_game`  Zhang et al. 2016 (arXiv:1608.00507): does the map's maximum fall on the object?
- :func:`energy_on_mask` the energy-based pointing game (Wang et al. 2020, arXiv:1910.01279): how much of
  the map's mass lies on the object?
- :func:`rank_correlation` Spearman correlation of two maps (Adebayo et al. 2018, arXiv:1810.03292)
- :func:`cascading_randomization` the model-randomization sanity check of Adebayo et al. 2018
- :func:`perturbation_curves`, :func:`auc` deletion and insertion (Petsiuk et al. 2018, arXiv:1806.07421):
  does the score fall fast when the map's top pixels go, and rise fast when they come back?
- :func:`road_curves`, :func:`impute_linear` deletion without the out-of-distribution hole: ROAD's noisy linear
  imputation (Rong et al. 2022, arXiv:2202.00449), most and least relevant first
- :func:`psnr`, :func:`ssim` image similarity (Wang et al. 2004) for feature inversion (notebook 03)
- :func:`mean_interval` a mean with its bootstrap interval, for rankings of methods; :func:`rate_interval`
  a hit rate with its Wilson interval (not zero-width at 0% or 100%)
- :func:`model_free_maps` maps that know no model (contrast, brightness, edges, a centre prior, random):
  the baselines every localization score must beat
- :func:`tile_masks` the tiles of a mosaic, for the grid pointing game (Rao et al. 2022, arXiv:2202.11299)

Introduced in notebooks/01_saliency_maps.ipynb.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from course_utils.base import check_finite, check_image_values, check_index, check_number, resize_maps


def _maps_on_masks(heatmaps, masks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(heatmaps, heatmaps resized to the masks, masks)`` checked: ``(N, h, w)`` finite maps, ``(N, H, W)`` masks."""
    heatmaps, masks = np.asarray(heatmaps, np.float32), np.asarray(masks, bool)
    if heatmaps.ndim != 3 or masks.ndim != 3 or len(heatmaps) != len(masks) or 0 in heatmaps.shape[1:]:
        raise ValueError(f"heatmaps {heatmaps.shape} and masks {masks.shape}: expected (N, h, w) and (N, H, W)")
    check_finite(heatmaps, "heatmaps", "maps")
    return heatmaps, resize_maps(heatmaps, masks.shape[1:]), masks


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """``(N,)`` bool: whether the maximum of each heatmap ``(N, h, w)`` (resized to the masks'
    ``(N, H, W)`` size) lies on the mask, or within ``tolerance`` pixels of it. Ties: the first maximum.

    A constant map has no maximum: a miss. Any other map misses an empty mask and hits an all-true one.
    """
    heatmaps, maps, masks = _maps_on_masks(heatmaps, masks)
    tolerance = check_number("tolerance", tolerance, 0, integer=True)
    h, w = masks.shape[1:]
    flat = maps.reshape(len(maps), -1).argmax(1)
    ys, xs = np.divmod(flat, w)
    hits = np.zeros(len(maps), bool)
    for i, (y, x) in enumerate(zip(ys, xs)):
        window = masks[i, max(0, y - tolerance): y + tolerance + 1, max(0, x - tolerance): x + tolerance + 1]
        hits[i] = window.any()
    return hits & (np.ptp(heatmaps.reshape(len(heatmaps), -1), axis=1) > 0)


def energy_on_mask(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``(N,)`` share in [0, 1] of each heatmap's positive mass ``(N, h, w)`` (resized to the masks'
    ``(N, H, W)`` size, negative values set to 0) that lies on its mask: Wang et al.'s energy-based
    pointing game. A map with no positive mass prefers no place, so it gets the share a flat map would,
    the mask's area fraction (its random baseline), never NaN."""
    _, maps, masks = _maps_on_masks(heatmaps, masks)
    maps = np.maximum(maps, 0).astype(np.float64)
    total = maps.sum(axis=(1, 2))
    on = (maps * masks).sum(axis=(1, 2))
    area = masks.mean(axis=(1, 2))
    return np.where(total > 0, on / np.where(total > 0, total, 1), area)


def random_pointing_baseline(masks: np.ndarray) -> float:
    """Expected pointing-game hit rate of a map whose maximum falls uniformly at random: the mean
    fraction of the image covered by the mask."""
    if np.ndim(masks) != 3 or len(masks) == 0:
        raise ValueError(f"masks of shape {np.shape(masks)}: expected at least one mask (N, H, W)")
    return float(np.asarray(masks, bool).mean())


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each pair of maps ``(N, H, W)`` -> ``(N,)``: tied values share their
    average rank, exactly ``scipy.stats.spearmanr`` (ReLU'd maps are full of ties: ranking them by position
    would make two unrelated sparse maps agree). A constant map ranks nothing: 0, where scipy gives NaN."""
    from scipy.stats import rankdata

    _same_shape(a, b, "maps", "(N, H, W)")
    a, b = check_finite(a, "maps a", "maps"), check_finite(b, "maps b", "maps")
    ra = rankdata(np.reshape(a, (len(a), -1)), axis=1)
    rb = rankdata(np.reshape(b, (len(b), -1)), axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    return np.where(denom > 0, (ra * rb).sum(1) / np.where(denom > 0, denom, 1), 0.0)


def cascading_randomization(model, layers: Sequence[str], seed: int = 0) -> Iterator[tuple[str, object]]:
    """Yield ``(layer, copy)`` where ``copy`` is a clone of ``model`` whose weights are re-initialized
    from the top (output) layer down to and including ``layer``, for each of ``layers`` given top-down.
    ``model`` itself is never modified."""
    import keras

    from course_utils.layers import find_layer

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    for name in layers:
        layer = find_layer(copy, name)  # "outer/inner" paths into nested models; unknown names listed
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


def _image_pair(a, b, min_side: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two batches ``(N, H, W, C)`` of the same shape in [0, 1] (uint8 scaled), ``H, W >= min_side``."""
    _same_shape(a, b, "images", "(N, H, W, 3)")
    if np.ndim(a) != 4 or len(a) == 0 or min(np.shape(a)[1:3]) < min_side:
        raise ValueError(f"images of shape {np.shape(a)}: expected batches (N, H, W, 3) with H, W >= {min_side}")
    return check_image_values(a, "images a"), check_image_values(b, "images b")


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of image batches ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``.
    Identical images score 120 dB (the mean squared error is floored at 1e-12), not infinity."""
    a, b = _image_pair(a, b)
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5) of image batches
    ``(N, H, W, 3)`` in [0, 1] -> ``(N,)``, via ``tf.image.ssim``: 1 for identical images (constant ones
    included). Images must be at least 11x11, the window's size."""
    a, b = _image_pair(a, b, min_side=11)
    import tensorflow as tf

    return tf.image.ssim(tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=1.0).numpy()


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``(N, H, W, 3)`` images over H and W (reflect padding)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, (0, sigma, sigma, 0), mode="reflect").astype(np.float32)


SUBSTRATES = ("blur", "mean", "zero")
CURVE_PIXELS = 512 * 64 * 64  # perturbed images per predict call, in pixels: 512 scenes, 41 photos of 224 px


def _targets(target, n: int) -> np.ndarray:
    """``(n,)`` class indices: one for every image, or one per image."""
    targets = np.broadcast_to(np.asarray(target), (n,)) if np.ndim(target) == 0 else np.asarray(target)
    if targets.shape != (n,):
        raise ValueError(f"target of shape {targets.shape}: expected one class index, or {n}, one per image")
    return targets


def _pixel_ranks(heatmaps: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(N, h, w)`` rank of each pixel by its heat (resized to ``h x w``), 0 the hottest; ties in one fixed
    random order, so a constant map ranks like a random one."""
    n = len(heatmaps)
    ties = np.broadcast_to(np.random.default_rng(0).permutation(h * w), (n, h * w))
    order = np.lexsort((ties, -resize_maps(heatmaps, (h, w)).reshape(n, -1)))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None], axis=1)
    return rank.reshape(n, h, w)


def _probabilities(probs) -> np.ndarray:
    """``predict``'s output ``(N, classes)``, checked to be probabilities: logits would make the curves' areas
    meaningless without a word."""
    probs = np.asarray(probs, float)
    if (probs.ndim != 2 or not probs.size or not np.isfinite(probs).all() or probs.min() < -1e-6
            or probs.max() > 1 + 1e-6):
        low, high = (np.nanmin(probs), np.nanmax(probs)) if probs.size else (np.nan, np.nan)
        raise ValueError(f"predict returned shape {probs.shape} with values in [{low:.3g}, {high:.3g}]: expected "
                         "(N, classes) probabilities in [0, 1]; pass CourseModel.predict, or apply a softmax to "
                         "the logits")
    return probs


def perturbation_curves(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, heatmaps: np.ndarray,
                        target, steps: int = 16, substrate: str = "blur", sigma: float = 4.0,
                        batch_size: int | None = None) -> dict:
    """Deletion and insertion curves (Petsiuk et al. 2018) of ``heatmaps`` ``(N, h, w)`` for ``images``
    ``(N, H, W, 3)`` in [0, 1].

    Pixels are ranked by the heatmap (resized to the image; ties in one fixed random order, so a constant
    map, such as an all-zero Grad-CAM, scores as a random ranking). For ``k = 0..steps`` the
    top ``k/steps`` of them are replaced by the ``substrate`` (deletion) or, starting from the substrate,
    put back (insertion), and ``predict`` (``images -> (N, classes)`` probabilities, e.g.
    ``CourseModel.predict``) scores the ``target`` class, about ``batch_size`` images per call (default: 2 M pixels'
    worth, 512 scenes of 64 px or 41 photos of 224 px, about 250 MB). Substrates: ``"blur"`` (Gaussian, ``sigma``
    px), ``"mean"`` (the image's mean colour), ``"zero"`` (black).

    Returns ``{"fractions": (steps + 1,), "deletion": (N, steps + 1), "insertion": (N, steps + 1)}``.
    A good map has a low deletion AUC and a high insertion AUC (:func:`auc`).
    """
    images, heatmaps = np.asarray(images), np.asarray(heatmaps, np.float32)
    if images.ndim != 4 or heatmaps.ndim != 3 or len(images) != len(heatmaps) or len(images) == 0:
        raise ValueError(f"images {images.shape} and heatmaps {heatmaps.shape}: expected (N, H, W, 3) and (N, h, w)")
    images, heatmaps = check_image_values(images), check_finite(heatmaps, "heatmaps", "maps")
    if substrate not in SUBSTRATES:
        raise ValueError(f"substrate={substrate!r}: expected one of {SUBSTRATES}")
    steps = check_number("steps", steps, 1, integer=True)
    sigma = check_number("sigma", sigma, 0)
    n, h, w = images.shape[:3]
    batch_size = max(1, CURVE_PIXELS // (h * w)) if batch_size is None else check_number("batch_size", batch_size, 1,
                                                                                          integer=True)
    targets = _targets(target, n)
    base = {"blur": lambda: _blur(images, sigma), "mean": lambda: np.broadcast_to(
        images.mean(axis=(1, 2), keepdims=True), images.shape), "zero": lambda: np.zeros_like(images)}[substrate]()
    rank = _pixel_ranks(heatmaps, h, w)[..., None]
    fractions = np.linspace(0, 1, steps + 1)
    kept = rank[:, None] < np.round(fractions * h * w).reshape(1, -1, 1, 1, 1)  # (N, K, H, W, 1): top pixels
    scores = np.zeros((n, 2, steps + 1))
    per = max(1, batch_size // (2 * (steps + 1)))
    for i in range(0, n, per):
        im, bs, top = images[i:i + per, None], base[i:i + per, None], kept[i:i + per]
        batch = np.stack([np.where(top, bs, im), np.where(top, im, bs)], 1)  # (n, 2, K, H, W, 3)
        probs = _probabilities(predict(batch.reshape(-1, h, w, 3))).reshape(*batch.shape[:3], -1)
        if i == 0:  # the number of classes is known now
            target = np.array([check_index(t, "target", probs.shape[-1], "class") for t in targets.tolist()])
        scores[i:i + per] = np.take_along_axis(probs, target[i:i + per, None, None, None], -1)[..., 0]
    curves = {"deletion": scores[:, 0], "insertion": scores[:, 1]}
    return {"fractions": fractions, **curves}


def auc(curves: np.ndarray, fractions: np.ndarray | None = None) -> np.ndarray:
    """Area under each curve ``(N, K)`` over ``fractions`` in [0, 1] (trapezoidal) -> ``(N,)``."""
    curves = np.asarray(curves, np.float64)
    x = np.linspace(0, 1, curves.shape[-1] if curves.ndim else 0) if fractions is None else np.asarray(fractions, float)
    check_finite(curves, "curves")
    check_finite(x, "fractions")
    if curves.ndim < 1 or curves.shape[-1] < 2 or x.shape != curves.shape[-1:]:
        raise ValueError(f"curves of shape {curves.shape} and fractions of shape {x.shape}: expected (N, K) and (K,), "
                         "K >= 2 points per curve")
    return np.trapezoid(curves, x, axis=-1)


def mean_interval(values, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)`` of per-item ``values`` ``(N,)`` (hits as bools, or AUCs): the mean and its
    percentile bootstrap interval at ``level`` (Efron & Tibshirani 1993), resampling the items ``resamples``
    times with a seeded generator, so the interval is the same on every run. Give rankings of methods with it."""
    v = np.asarray(values, np.float64)
    check_finite(v, "values")
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"values of shape {v.shape}: expected one value per item (N,), N >= 2")
    level = check_number("level", level, 0, 1, low_open=True)
    if level >= 1:
        raise ValueError(f"level={level!r}: expected a number > 0 and < 1")
    resamples = check_number("resamples", resamples, 1, integer=True)
    means = v[np.random.default_rng(seed).integers(0, len(v), (resamples, len(v)))].mean(1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(v.mean()), float(low), float(high)


def rate_interval(hits, level: float = 0.95) -> tuple[float, float, float]:
    """``(rate, low, high)`` of ``hits`` ``(N,)`` (bools, or 0/1): the hit rate and its Wilson score interval
    (Wilson 1927; ``scipy.stats.binomtest(k, n).proportion_ci("wilson")``), which stays wide at 0 or N hits,
    where a bootstrap interval collapses to a point."""
    from scipy.stats import norm

    h = np.asarray(hits, np.float64)
    check_finite(h, "hits")
    if h.ndim != 1 or len(h) < 1 or not np.isin(h, (0, 1)).all():
        raise ValueError(f"hits of shape {h.shape}: expected one bool (or 0/1) per item (N,), N >= 1")
    level = check_number("level", level, 0, 1, low_open=True)
    if level >= 1:
        raise ValueError(f"level={level!r}: expected a number > 0 and < 1")
    n, p = len(h), h.mean()
    z = norm.ppf((1 + level) / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(p), float(min(p, max(0.0, centre - half))), float(max(p, min(1.0, centre + half)))  # round-off


MODEL_FREE = ("contrast", "brightness", "edges", "centre", "random")


def model_free_maps(images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Maps ``(N, H, W)`` of ``images`` ``(N, H, W, 3)`` in [0, 1] that know no model, the baselines of every
    localization score: ``contrast`` ``|gray - mean(gray)|``, ``brightness`` (gray, the channel mean), ``edges``
    (Sobel gradient magnitude of gray), ``centre`` (a Gaussian bump, sigma a quarter of the side) and ``random``
    (uniform noise from ``seed``). A method that does not beat them has not shown it uses the model."""
    from scipy.ndimage import sobel

    if np.ndim(images) != 4 or len(images) == 0:
        raise ValueError(f"images of shape {np.shape(images)}: expected a batch (N, H, W, 3)")
    images = check_image_values(images)
    gray = np.asarray(images, np.float32).mean(-1)
    n, h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2) / (min(h, w) / 4) ** 2
    return {
        "contrast": np.abs(gray - gray.mean(axis=(1, 2), keepdims=True)),
        "brightness": gray,
        "edges": np.stack([np.hypot(sobel(g, axis=0), sobel(g, axis=1)) for g in gray]).astype(np.float32),
        "centre": np.broadcast_to(np.exp(-r2 / 2), gray.shape).astype(np.float32),
        "random": np.random.default_rng(seed).random(gray.shape).astype(np.float32),
    }


def tile_masks(grid: int, size: int, tiles) -> np.ndarray:
    """``(N, size, size)`` bool: the mask of tile ``tiles[i]`` (row by row, ``0 .. grid**2 - 1``) of a
    ``grid x grid`` mosaic of side ``size`` as :func:`course_utils.images.mosaic` lays it out. With these masks
    :func:`energy_on_mask` is the grid pointing game's score (the map's positive mass in the target tile; chance
    ``1 / grid**2`` for a flat map) and :func:`pointing_game` its hit (the maximum in the tile)."""
    grid = check_number("grid", grid, 1, integer=True)
    size = check_number("size", size, grid, integer=True)
    tiles = np.atleast_1d(np.asarray(tiles))
    if tiles.ndim != 1 or tiles.dtype.kind not in "iu" or not ((tiles >= 0) & (tiles < grid * grid)).all():
        raise ValueError(f"tiles={tiles!r}: expected whole numbers in [0, {grid * grid - 1}]")
    side = -(-size // grid)
    cell = np.minimum(np.arange(size) // side, grid - 1)
    index = cell[:, None] * grid + cell[None, :]
    return index[None] == tiles[:, None, None]


def impute_linear(images: np.ndarray, removed: np.ndarray, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """ROAD's noisy linear imputation (Rong et al. 2022, arXiv:2202.00449): each removed pixel of ``images``
    ``(N, H, W, 3)`` becomes the weighted mean of its 8 neighbours (1/6 the 4 direct ones, 1/12 the diagonal ones),
    removed neighbours included, which is a sparse linear system per image; then Gaussian noise of std ``noise``
    is added to the imputed pixels. ``removed`` ``(N, H, W)`` bool. Unlike a blur or a constant fill, the result
    stays near the data, so the class score falls for what was removed, not for the shape of the hole."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import splu

    images = np.asarray(images, np.float64)
    removed = np.asarray(removed, bool)
    if images.ndim != 4 or removed.shape != images.shape[:3]:
        raise ValueError(f"images {images.shape} and removed {removed.shape}: expected (N, H, W, C) and (N, H, W)")
    noise = check_number("noise", noise, 0)
    n, h, w, c = images.shape
    offsets = [(dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    out = images.copy()
    rng = np.random.default_rng(seed)
    for i in range(n):
        ys, xs = np.nonzero(removed[i])
        if len(ys) == 0:
            continue
        if len(ys) == h * w:  # nothing to impute from: the image's mean colour
            out[i] = images[i].mean(axis=(0, 1))
            continue
        index = np.full((h, w), -1)
        index[ys, xs] = np.arange(len(ys))
        rows, cols, vals = [np.arange(len(ys))], [np.arange(len(ys))], [np.zeros(len(ys))]
        total, rhs = np.zeros(len(ys)), np.zeros((len(ys), c))
        for dy, dx, wt in offsets:
            y2, x2 = ys + dy, xs + dx
            inside = (y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)
            k, y2, x2 = np.flatnonzero(inside), y2[inside], x2[inside]
            total[k] += wt
            unknown = index[y2, x2] >= 0
            rows.append(k[unknown])
            cols.append(index[y2[unknown], x2[unknown]])
            vals.append(np.full(unknown.sum(), -wt))
            rhs[k[~unknown]] += wt * images[i, y2[~unknown], x2[~unknown]]
        vals[0] = total  # sum_q w_q x_p - sum_{q removed} w_q x_q = sum_{q kept} w_q x_q
        a = csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(ys),) * 2)
        filled = splu(a.tocsc()).solve(rhs)
        out[i, ys, xs] = filled + rng.normal(0, noise, filled.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def road_curves(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, heatmaps: np.ndarray, target,
                fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), noise: float = 0.01,
                seed: int = 0) -> dict:
    """ROAD (Rong et al. 2022): remove the ``fractions`` of pixels the heatmap ``(N, h, w)`` ranks highest (MoRF,
    most relevant first) or lowest (LeRF, least relevant first) from ``images`` ``(N, H, W, 3)`` in [0, 1], fill
    them by :func:`impute_linear`, and read ``predict`` (``images -> (N, classes)`` probabilities) for the
    ``target`` class. Ties rank in one fixed random order, as in :func:`perturbation_curves`. Returns
    ``{"fractions": (K,), "morf": (N, K), "lerf": (N, K)}``; a good map has a low MoRF and a high LeRF curve
    (:func:`auc` over ``fractions``)."""
    images, heatmaps = np.asarray(images), np.asarray(heatmaps, np.float32)
    if images.ndim != 4 or heatmaps.ndim != 3 or len(images) != len(heatmaps) or len(images) == 0:
        raise ValueError(f"images {images.shape} and heatmaps {heatmaps.shape}: expected (N, H, W, 3) and (N, h, w)")
    images, heatmaps = check_image_values(images), check_finite(heatmaps, "heatmaps", "maps")
    fractions = np.asarray(fractions, np.float64)
    if fractions.ndim != 1 or len(fractions) < 2 or (fractions < 0).any() or (fractions > 1).any():
        raise ValueError(f"fractions={fractions!r}: expected at least two numbers in [0, 1]")
    n, h, w = images.shape[:3]
    targets = _targets(target, n)
    rank = _pixel_ranks(heatmaps, h, w)
    curves = {"morf": np.zeros((n, len(fractions))), "lerf": np.zeros((n, len(fractions)))}
    for k, f in enumerate(fractions):
        count = int(round(f * h * w))
        for kind, removed in (("morf", rank < count), ("lerf", rank >= h * w - count)):
            probs = _probabilities(predict(impute_linear(images, removed, noise, seed=seed + k)))
            cls = np.array([check_index(t, "target", probs.shape[-1], "class") for t in targets.tolist()])
            curves[kind][:, k] = probs[np.arange(n), cls]
    return {"fractions": fractions, **curves}

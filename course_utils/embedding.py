"""Maps of a layer's activation space: t-SNE / UMAP layouts and activation atlases.

One vector per image (the layer's activations averaged over positions, :func:`layer_vectors`) is laid
out in 2-D so that images the layer represents alike land close together (:func:`project`: t-SNE,
van der Maaten & Hinton 2008; UMAP, McInnes et al. 2018, arXiv:1802.03426; PCA as the linear baseline).
An **activation atlas** (Carter et al. 2019, https://distill.pub/2019/activation-atlas/) bins that
layout into a grid (:func:`grid_cells`), averages the activation vectors in each cell and renders, per
cell, the image that maximizes that average *direction* at the layer (:func:`atlas`, with the
:class:`~course_utils.optimization.Renderer` loop of feature visualization).

Layouts are memoized per (vectors, method, seed, parameters), and atlas render loops are compiled once
per (model, layer, batch), so widgets never recompute what they already have.
Introduced in notebooks/07_activation_atlas.ipynb.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from course_utils import optimization as opt
from course_utils.activations import feature_model
from course_utils.base import ModelLike, batch_for, check_index, check_number, check_vectors, model_cache, tile
from course_utils.models import course_model

METHODS = ("tsne", "umap", "pca")
#: The main parameter of each method (``None``: it has none) and its default.
PARAMETER = {"tsne": ("perplexity", 30), "umap": ("n_neighbors", 15), "pca": (None, None)}
#: The fewest vectors each method lays out (UMAP's spectral start needs 3 eigenvectors of the kNN graph).
MIN_POINTS = {"tsne": 2, "umap": 4, "pca": 2}
#: t-SNE and UMAP get vectors whose spread lies outside this range rescaled by a power of two (float32
#: distances underflowed or overflowed: a t-SNE of vectors ~1e-25 apart crashed, one ~1e25 apart collapsed).
SAFE_SPREAD = (1e-4, 1e4)
_LAYOUTS: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_MAX_LAYOUTS = 64


# ---- vectors ---------------------------------------------------------------------------------------------

AT = ("mean", "peak")


def layer_vectors(cm: ModelLike, images: np.ndarray, layers: str | Sequence[str], batch_size: int | None = None,
                  logits: bool = False, at: str = "mean"):
    """One activation vector per image: ``layer``'s activations averaged over positions (``at="mean"``),
    or taken at the single position where the vector is longest (``at="peak"``: where the layer
    answers most, on the item of a scene; Carter et al. 2019 take single positions too).

    Args:
        cm: a :class:`~course_utils.models.CourseModel`; ``images`` ``(N, H, W, 3)`` displayable, in [0, 1].
        layers: one layer path, or several (one forward pass serves them all).
        logits: also return the model's logits ``(N, classes)`` from the same pass.
    Returns: ``(N, C)`` float32 for one layer, a dict ``{layer: (N, C)}`` for several; with ``logits``
    a pair ``(that, logits)``. A dense layer's ``(N, C)`` output is used as it is. The spatial mean is
    what :func:`course_utils.optimization.direction` maximizes (mean over positions of ``a . v`` equals
    ``mean(a) . v``), so an atlas cell's average vector and its icon's objective agree. Means are
    taken batch by batch (``batch_size`` images, default :func:`~course_utils.base.batch_for`): a 64x64x12
    layer of 2,000 images is never held whole.
    """
    cm = course_model(cm)
    if at not in AT:
        raise ValueError(f"at={at!r}: expected one of {AT}")
    single = isinstance(layers, str)
    names = [layers] if single else list(layers)
    if not names:
        raise ValueError("layers=[]: expected a layer path or a non-empty list of paths")
    sub = feature_model(cm.model, names)  # ValueError naming the valid layers for an unknown one
    x = cm.preprocess(images)             # ValueError for NaN, a bad range or shape
    batch_size = batch_for(x, batch_size)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(names) + 1)]
    for i in range(0, len(x), batch_size):
        outs = sub(x[i:i + batch_size], training=False)
        for k, a in enumerate(list(outs[:len(names)]) + [outs[-1]]):
            a = np.asarray(a, np.float32)
            if a.ndim > 2 and k < len(names):
                a = a.reshape(len(a), -1, a.shape[-1])
                a = a.mean(axis=1) if at == "mean" else a[np.arange(len(a)), (a ** 2).sum(-1).argmax(1)]
            parts[k].append(a)
    arrays = [np.concatenate(p) for p in parts]
    vectors = arrays[0] if single else dict(zip(names, arrays[:-1]))
    return (vectors, arrays[-1]) if logits else vectors


def channel_profiles(max_per_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels as points: ``(profiles (C', N), alive (C',))`` from each input's spatial maximum per channel
    ``max_per_input`` ``(N, C)`` (:func:`course_utils.activations.channel_stats`). A channel's profile is its
    maxima over the N inputs divided by their largest, so it says *which* inputs excite the channel, not how
    strongly; channels that never fire (largest maximum 0: dead on these inputs) are left out, and ``alive``
    holds the indices of the others. Lay the profiles out with :func:`project` (notebooks/07, section 6)."""
    m = check_vectors(max_per_input, "max_per_input")
    peak = m.max(axis=0)
    alive = np.flatnonzero(peak > 0)
    if len(alive) == 0:
        raise ValueError(f"max_per_input of shape {m.shape}: no channel fires on any input (all maxima <= 0), "
                         "so no channel has a profile; is the layer dead on these inputs?")
    return (m[:, alive] / peak[alive]).T.astype(np.float32), alive


# ---- layouts ---------------------------------------------------------------------------------------------

def project(vectors: np.ndarray, method: str = "tsne", seed: int = 0, threads: int | None = 1,
            **param) -> np.ndarray:
    """2-D layout ``(N, 2)`` float32 of ``vectors`` ``(N, C)``.

    Args:
        method: ``"tsne"`` (keeps each point's nearest neighbours; distances between clusters mean
            little), ``"umap"`` (also neighbours, from a fuzzy kNN graph; faster, keeps more global
            structure) or ``"pca"`` (the best linear 2-D view: keeps large variances, not neighbours).
        seed: fixes the layout (same inputs, same seed: the same points).
        threads: OpenMP threads for t-SNE (``None``: all). 1 by default: on a busy 2-core machine two
            spinning threads made a 2,000-point t-SNE *slower* than one (20.6 s against 8.0 s).
        param: ``perplexity`` (t-SNE, default 30, must be below N), ``n_neighbors`` (UMAP, default 15,
            an integer, 2 <= k < N), or any other keyword of ``sklearn.manifold.TSNE`` / ``umap.UMAP``.
    Results are memoized per (vectors, method, seed, param): asking again costs a hash.

    Degenerate vectors are decided here, before native code runs (a t-SNE of identical points killed the
    Python process): fewer than :data:`MIN_POINTS` vectors, or vectors all identical (a dead layer, all
    zero), raise ValueError. t-SNE and UMAP layouts do not depend on the vectors' overall scale, so vectors
    whose spread is outside :data:`SAFE_SPREAD` are rescaled by a power of two first; a single channel is
    laid out as it is on a line (a second channel of zeros is added).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    v = check_vectors(vectors)
    seed = check_number("seed", seed, 0, integer=True)
    if threads is not None:
        check_number("threads", threads, 1, integer=True)
    if len(v) < MIN_POINTS[method]:
        raise ValueError(f"{len(v)} vector(s): method={method!r} needs at least {MIN_POINTS[method]} to lay out; "
                         "pass more images")
    spread = float(np.ptp(v.astype(np.float64), axis=0).max())
    if spread == 0:
        raise ValueError(f"all {len(v)} vectors are identical{' (all zero: a dead layer?)' if not v.any() else ''}: "
                         "a layout would put every point in one place; pick another layer or other images")
    name, default = PARAMETER[method]
    if name is None and param:
        raise ValueError(f"method='pca' takes no parameters, got {sorted(param)}")
    if name is not None:
        value, low = param.setdefault(name, default), 2 if method == "umap" else 1
        param[name] = check_number(name, value, integer=method == "umap")  # not NaN, True or (UMAP) 2.5
        if not low <= value < len(v):
            raise ValueError(f"{name}={value!r} with {len(v)} points: expected {low} <= {name} < {len(v)} "
                             f"(lower the {name} or pass more points)")
    key = (hashlib.sha1(v.tobytes()).hexdigest(), v.shape, method, seed,
           tuple(sorted((k, repr(p)) for k, p in param.items())))
    if key in _LAYOUTS:
        _LAYOUTS.move_to_end(key)
        return _LAYOUTS[key].copy()
    if method != "pca" and not SAFE_SPREAD[0] <= spread <= SAFE_SPREAD[1]:
        v = v * np.float32(2.0 ** -math.floor(math.log2(spread)))  # exact: the spread becomes [1, 2)
    if v.shape[1] == 1:
        v = np.hstack([v, np.zeros_like(v)])
    xy = _fit(v, method, seed, threads, dict(param)).astype(np.float32)
    if not np.isfinite(xy).all():
        raise ValueError(f"method={method!r} gave NaN or infinite coordinates for these vectors; try method='pca'")
    _LAYOUTS[key] = xy
    while len(_LAYOUTS) > _MAX_LAYOUTS:
        _LAYOUTS.popitem(last=False)
    return xy.copy()


def _fit(v: np.ndarray, method: str, seed: int, threads: int | None, param: dict) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(v)
    if method == "tsne":
        from sklearn.manifold import TSNE

        param.setdefault("init", "pca")
        param.setdefault("max_iter", 500)
        with threadpool_limits(threads):
            return TSNE(2, random_state=seed, **param).fit_transform(v)
    import warnings

    with warnings.catch_warnings():  # "n_jobs overridden to 1 by setting random_state": that is the point
        warnings.filterwarnings("ignore", message=".*(n_jobs|knn_search_index).*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        import umap

        param.setdefault("n_epochs", 200)
        if param.get("metric", "euclidean") == "euclidean" and "precomputed_knn" not in param:
            # Below 4,096 points umap-learn calls its numba metric once per *pair* from Python (2,000 points:
            # 30-40 s); scikit-learn's exact neighbours take a fraction of a second and give the same graph.
            from sklearn.neighbors import NearestNeighbors

            dist, index = NearestNeighbors(n_neighbors=int(param["n_neighbors"])).fit(v).kneighbors(v)
            param["precomputed_knn"] = (index, dist, None)
        with threadpool_limits(threads):
            return umap.UMAP(n_components=2, random_state=seed, **param).fit_transform(v)


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours (itself excluded) that share its label.

    Compare it in activation space and in a 2-D layout: how well the layout keeps the classes' neighbourhoods.
    Duplicate points are each other's nearest neighbours (all identical points: any ``k`` others, a valid
    but uninformative score). Needs at least 2 points.
    """
    from sklearn.neighbors import NearestNeighbors

    p = check_vectors(points, "points")
    labels = np.asarray(labels)
    if labels.shape != (len(p),):
        raise ValueError(f"labels of shape {labels.shape}: expected ({len(p)},), one per point")
    if len(p) < 2:
        raise ValueError("1 point: knn_agreement needs at least 2 (each point is compared with its neighbours)")
    k = check_number("k", k, integer=True)
    if not 1 <= k < len(p):
        raise ValueError(f"k={k!r} with {len(p)} points: expected 1 <= k < {len(p)}")
    index = NearestNeighbors(n_neighbors=k).fit(p).kneighbors(return_distance=False)  # never the point itself
    return float((labels[index] == labels[:, None]).mean())


# ---- the grid --------------------------------------------------------------------------------------------

@dataclass
class Grid:
    """A 2-D layout binned into ``grid`` x ``grid`` cells. Row 0 is the *top* of the layout (largest y),
    so ``(grid, grid, ...)`` arrays display in the same orientation as a scatter plot of it.

    cell: ``(N,)`` flat cell of each point, ``row * grid + col``; counts: ``(grid, grid)`` points per cell;
    filled: ``(grid, grid)`` bool, cells with at least ``min_count`` points; means: ``(grid, grid, C)``
    mean vector of each filled cell, zeros elsewhere (never NaN), or None without vectors;
    extent: ``(x0, x1, y0, y1)`` of the binned area.
    """

    grid: int
    min_count: int
    cell: np.ndarray
    counts: np.ndarray
    filled: np.ndarray
    means: np.ndarray | None
    extent: tuple[float, float, float, float]

    @property
    def n_filled(self) -> int:
        return int(self.filled.sum())

    def _check_cell(self, row: int, col: int) -> tuple[int, int]:
        return check_index(row, "row", self.grid, "cell row"), check_index(col, "col", self.grid, "cell column")

    def members(self, row: int, col: int) -> np.ndarray:
        """Indices of the points in cell ``(row, col)``, in input order."""
        row, col = self._check_cell(row, col)
        return np.flatnonzero(self.cell == row * self.grid + col)

    def cell_box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)`` of cell ``(row, col)`` in layout coordinates."""
        row, col = self._check_cell(row, col)
        x0, x1, y0, y1 = self.extent
        w, h = (x1 - x0) / self.grid, (y1 - y0) / self.grid
        return x0 + col * w, x0 + (col + 1) * w, y1 - (row + 1) * h, y1 - row * h


def grid_cells(xy: np.ndarray, vectors: np.ndarray | None = None, grid: int = 10, min_count: int = 3,
               extent: tuple[float, float, float, float] | None = None) -> Grid:
    """Bin the layout ``xy`` ``(N, 2)`` into a ``grid`` x ``grid`` grid over its bounding box (or over
    ``extent`` ``(x0, x1, y0, y1)``, e.g. another grid's, with points outside it put in the nearest edge
    cell) and average ``vectors`` ``(N, C)`` per cell; cells with fewer than ``min_count`` points stay
    empty (Carter et al. drop them: an average of one or two images is a single image, not a region of
    the space). A layout without extent along an axis (one point, identical points) is one cell wide
    along it."""
    xy = check_vectors(xy, "xy", width=2)
    grid = check_number("grid", grid, 1, 100, integer=True)
    min_count = check_number("min_count", min_count, 1, integer=True)
    if extent is None:
        lo, hi = xy.min(0), xy.max(0)
    else:
        if np.ndim(extent) != 1 or len(extent) != 4:
            raise ValueError(f"extent={extent!r}: expected (x0, x1, y0, y1)")
        x0, x1, y0, y1 = (check_number(f"extent[{k}]", e) for k, e in enumerate(extent))
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"extent={tuple(extent)!r}: expected (x0, x1, y0, y1) with x1 > x0 and y1 > y0")
        lo, hi = np.array([x0, y0]), np.array([x1, y1])
    span = np.where(hi > lo, hi - lo, 1.0)
    col = np.clip(((xy[:, 0] - lo[0]) / span[0] * grid).astype(int), 0, grid - 1)
    row = grid - 1 - np.clip(((xy[:, 1] - lo[1]) / span[1] * grid).astype(int), 0, grid - 1)
    cell = row * grid + col
    counts = np.bincount(cell, minlength=grid * grid).reshape(grid, grid)
    filled = counts >= min_count
    means = None
    if vectors is not None:
        v = check_vectors(vectors)
        if len(v) != len(xy):
            raise ValueError(f"vectors have {len(v)} rows and xy {len(xy)}: expected one vector per point")
        sums = np.zeros((grid * grid, v.shape[1]), np.float64)
        np.add.at(sums, cell, v)
        means = (sums / np.maximum(counts.reshape(-1, 1), 1)).reshape(grid, grid, -1).astype(np.float32)
        means[~filled] = 0.0
    extent = (float(lo[0]), float(lo[0] + span[0]), float(lo[1]), float(lo[1] + span[1]))
    return Grid(grid, min_count, cell, counts, filled, means, extent)


def cell_majority(cells: Grid, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's dominant label and its share: ``(label (grid, grid) int, share (grid, grid) float)``
    from ``labels`` ``(N,)`` whole numbers >= 0, one per point; ``-1`` and ``0.0`` where a cell is not
    filled. The label a learner reads under an atlas icon, and how much of the cell it speaks for."""
    labels = np.asarray(labels)
    if labels.shape != cells.cell.shape or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError(f"labels of shape {labels.shape}, dtype {labels.dtype}: expected {cells.cell.shape} "
                         "whole numbers >= 0, one per point of the layout")
    table = np.zeros((cells.grid * cells.grid, int(labels.max()) + 1), np.int64)
    np.add.at(table, (cells.cell, labels), 1)
    label = np.where(cells.filled.ravel(), table.argmax(1), -1).reshape(cells.grid, cells.grid)
    share = np.where(cells.filled.ravel(), table.max(1) / np.maximum(table.sum(1), 1), 0.0)
    return label, share.reshape(cells.grid, cells.grid)


def majority_captions(cells: Grid, labels: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """``(grid, grid)`` strings "class share" (e.g. ``"Sneaker 83%"``) of each filled cell, ``""`` elsewhere,
    from :func:`cell_majority`: the captions of :func:`course_utils.plotting.plot_atlas`."""
    label, share = cell_majority(cells, labels)
    if label.max() >= len(class_names):
        raise ValueError(f"labels reach {label.max()} but there are {len(class_names)} class names")
    return np.array([[f"{class_names[k]} {s:.0%}" if k >= 0 else "" for k, s in zip(*row)]
                     for row in zip(label, share)], dtype=object)


def align(reference: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Procrustes: rotate, reflect, shift and scale layout ``xy`` ``(N, 2)`` onto ``reference`` ``(N, 2)``
    (the same N points, e.g. one set of images through two models; Gower 1975). t-SNE and UMAP fix a
    layout only up to these moves, so two layouts are compared after them. Returns ``(aligned (N, 2),
    rho)``: ``aligned`` has the reference's centre and spread, rotated to match it as well as any
    rotation or reflection can; ``rho`` in [0, 1] is the Procrustes correlation (1: the same layout up to
    those moves; near 0: unrelated), and ``rho ** 2`` the share of the reference's spread that the
    best-scaled aligned layout reproduces."""
    from scipy.linalg import orthogonal_procrustes

    ref, xy = check_vectors(reference, "reference", width=2), check_vectors(xy, "xy", width=2)
    if len(ref) != len(xy) or len(ref) < 3:
        raise ValueError(f"reference has {len(ref)} points and xy {len(xy)}: expected the same points, 3 or more")
    a, b = ref.astype(np.float64) - ref.mean(0), xy.astype(np.float64) - xy.mean(0)
    norm_a, norm_b = np.sqrt((a ** 2).sum()), np.sqrt((b ** 2).sum())
    if norm_a == 0 or norm_b == 0:
        raise ValueError("a layout with all its points in one place: nothing to align")
    rotation, singular_sum = orthogonal_procrustes(b, a)
    aligned = b @ rotation * (norm_a / norm_b) + ref.mean(0)
    return aligned.astype(np.float32), float(np.clip(singular_sum / (norm_a * norm_b), 0.0, 1.0))


# ---- the atlas -------------------------------------------------------------------------------------------

def directions(layer: str, vectors, cossim_pow: float = 0.0, centre: bool = False):
    """Objective: image ``i`` of the batch maximizes the direction ``vectors[i]`` ``(n, C)`` at ``layer``
    (a ``tf.Variable`` can be changed between runs of one :class:`~course_utils.optimization.Renderer`).

    With ``cossim_pow = 0`` this is :func:`course_utils.optimization.direction` per image: the mean over
    positions of ``a . v / |v|``; with ``centre`` it is ``a . v / |v|`` at the layer's centre position only
    (Lucid's ``direction_neuron``, which Activation Atlas renders): one object in the middle of the icon
    instead of the same pattern repeated over every position. With ``cossim_pow > 0`` it is multiplied
    by ``max(cos(a, v), 0.1) ** cossim_pow`` (``a`` the mean or centre vector, as Lucid's
    ``cossim_pow``), which asks the image to point *along* ``v`` rather than just far, so neighbouring
    cells do not all render the same strongest channel.
    """
    import tensorflow as tf

    cossim_pow = check_number("cossim_pow", cossim_pow, 0)
    if not isinstance(vectors, tf.Variable):
        vectors = check_vectors(vectors, nonzero=True)

    def fn(a):
        t = a[layer]
        want = (t.shape[0] or vectors.shape[0], t.shape[-1])
        if tuple(vectors.shape) != want:
            raise ValueError(f"vectors of shape {tuple(vectors.shape)}: expected {want}, one direction per image "
                             f"of the batch with one value per channel of {layer}")
        if len(t.shape) != 4:
            mean = t
        elif centre:
            mean = t[:, t.shape[1] // 2, t.shape[2] // 2]
        else:
            mean = tf.reduce_mean(t, axis=(1, 2))
        unit = tf.math.l2_normalize(tf.convert_to_tensor(vectors, tf.float32), axis=-1)
        dot = tf.reduce_sum(mean * unit, axis=-1)
        if cossim_pow:
            cos = dot / (tf.norm(mean, axis=-1) + 1e-6)
            dot = dot * tf.maximum(cos, 0.1) ** cossim_pow
        return dot

    return opt.Objective(fn, (layer,), f"directions({layer}{', centre' if centre else ''})")


@dataclass
class Atlas:
    """Rendered atlas. icons: ``(grid, grid, H, W, 3)`` in [0, 1], white where a cell is empty;
    cells: the :class:`Grid` it was made from; layer: the layer the icons were optimized at."""

    layer: str
    cells: Grid
    icons: np.ndarray

    def mosaic(self, pad: int = 1) -> np.ndarray:
        """All icons as one image ``(grid * (H + pad) - pad, ..., 3)``, rows top to bottom."""
        g = self.cells.grid
        return tile(self.icons.reshape(g * g, *self.icons.shape[2:]), g, pad=pad)


def _renderer(cm, layer: str, n: int, cossim_pow: float, learning_rate: float, seed: int, centre: bool):
    """A compiled Renderer for ``n`` directions at ``layer`` and its directions Variable, cached per model.
    A cached one for up to ``2 n`` directions is reused (padding costs less than a new trace)."""
    import tensorflow as tf

    per_model = model_cache(cm.model, "atlas_renderers")
    settings = (layer, float(cossim_pow), float(learning_rate), seed, bool(centre))
    sizes = sorted(k[1] for k in per_model if (k[0], *k[2:]) == settings and n <= k[1] <= 2 * n)
    key = (layer, sizes[0] if sizes else n, *settings[1:])
    if key not in per_model:
        width = int(layer_vectors(cm, np.full((1, *cm.input_size, 3), 0.5, np.float32), layer).shape[-1])
        v = tf.Variable(np.ones((n, width), np.float32))
        param = opt.Fourier(n, cm.input_size[0], seed=seed)
        per_model[key] = (opt.Renderer(cm, directions(layer, v, cossim_pow, centre), param, transforms=None,
                                       learning_rate=learning_rate, seed=seed), v)
    return per_model[key]


def render_directions(cm: ModelLike, layer: str, vectors: np.ndarray, steps: int = 64, batch: int = 64,
                      cossim_pow: float = 2.0, learning_rate: float = 0.1, seed: int = 0,
                      progress: bool = True, centre: bool = False) -> np.ndarray:
    """Feature visualizations ``(n, H, W, 3)`` in [0, 1] of the directions ``vectors`` ``(n, C)`` at ``layer``.

    Fourier images, standard transforms, ``steps`` Adam steps (capped by ``COURSE_MAX_STEPS``) of the
    :func:`directions` objective; ``batch`` directions at a time with one compiled
    :class:`~course_utils.optimization.Renderer` per (model, layer, batch, settings), cached and reused,
    never retraced (a short batch is padded; a cached loop for up to twice as many directions is reused).
    The defaults gave the most varied icons on the bundled models (cosine power 2, learning rate 0.1).
    Icons are not bit-reproducible from call to call: the random transforms draw new values each run.
    """
    cm = course_model(cm)
    from tqdm.auto import tqdm

    v = check_vectors(vectors, nonzero=True)
    steps = check_number("steps", steps, 1, integer=True)
    batch = check_number("batch", batch, 1, integer=True)
    cossim_pow = check_number("cossim_pow", cossim_pow, 0)
    learning_rate = check_number("learning_rate", learning_rate, 0, low_open=True)
    seed = check_number("seed", seed, 0, integer=True)
    renderer, variable = _renderer(cm, layer, min(batch, len(v)), cossim_pow, learning_rate, seed, centre)
    n = int(variable.shape[0])
    if variable.shape[-1] != v.shape[1]:
        raise ValueError(f"vectors have {v.shape[1]} channels but {layer} has {variable.shape[-1]}: "
                         "were they computed at another layer?")
    out = []
    for start in tqdm(range(0, len(v), n), desc=f"render {layer}", disable=not progress, leave=False):
        chunk = v[start:start + n]
        variable.assign(np.concatenate([chunk, np.repeat(chunk[-1:], n - len(chunk), axis=0)]))
        out.append(renderer.run(steps, progress=False)[0][:len(chunk)])
    return np.concatenate(out)


def atlas(cm: ModelLike, layer: str, vectors: np.ndarray, xy: np.ndarray, grid: int = 10, min_count: int = 3,
          steps: int = 64, batch: int = 64, seed: int = 0, progress: bool = True,
          extent: tuple[float, float, float, float] | None = None, **render) -> Atlas:
    """Render an activation atlas of ``layer`` from a layout ``xy`` ``(N, 2)`` of ``vectors`` ``(N, C)``
    (from :func:`layer_vectors` and :func:`project`): :func:`grid_cells` (over ``extent``, default the
    layout's bounding box), then for every filled cell the feature visualization of its mean vector
    (:func:`render_directions`; ``render`` passes ``centre``, ``cossim_pow`` and ``learning_rate``).
    Activation Atlas proper is ``layer_vectors(..., at="peak")`` and ``centre=True``: vectors and icons
    of single positions. Empty cells stay white, and so do cells whose mean vector is all zero (images
    on which the layer is dead: no direction to render).
    """
    cm = course_model(cm)
    cells = grid_cells(xy, vectors, grid, min_count, extent)
    grid, size = cells.grid, cm.input_size[0]
    icons = np.ones((grid * grid, size, size, 3), np.float32)
    todo = np.flatnonzero(cells.filled.ravel() & cells.means.reshape(grid * grid, -1).any(axis=1))
    if len(todo):
        icons[todo] = render_directions(cm, layer, cells.means.reshape(grid * grid, -1)[todo], steps, batch,
                                        seed=seed, progress=progress, **render)
    return Atlas(layer, cells, icons.reshape(grid, grid, size, size, 3))

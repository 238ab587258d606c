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
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from course_utils import optimization as opt
from course_utils.activations import feature_model
from course_utils.base import ModelLike, model_cache, tile
from course_utils.models import course_model

METHODS = ("tsne", "umap", "pca")
#: The main parameter of each method (``None``: it has none) and its default.
PARAMETER = {"tsne": ("perplexity", 30), "umap": ("n_neighbors", 15), "pca": (None, None)}
_LAYOUTS: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_MAX_LAYOUTS = 64


# ---- vectors ---------------------------------------------------------------------------------------------

def layer_vectors(cm: ModelLike, images: np.ndarray, layers: str | Sequence[str], batch_size: int = 64,
                  logits: bool = False):
    """One activation vector per image: ``layer``'s activations averaged over positions.

    Args:
        cm: a :class:`~course_utils.models.CourseModel`; ``images`` ``(N, H, W, 3)`` displayable, in [0, 1].
        layers: one layer path, or several (one forward pass serves them all).
        logits: also return the model's logits ``(N, classes)`` from the same pass.
    Returns: ``(N, C)`` float32 for one layer, a dict ``{layer: (N, C)}`` for several; with ``logits``
    a pair ``(that, logits)``. A dense layer's ``(N, C)`` output is used as it is. The spatial mean is
    what :func:`course_utils.optimization.direction` maximizes (mean over positions of ``a . v`` equals
    ``mean(a) . v``), so an atlas cell's average vector and its icon's objective agree. Means are
    taken batch by batch: a 64x64x12 layer of 2,000 images is never held whole.
    """
    cm = course_model(cm)
    single = isinstance(layers, str)
    names = [layers] if single else list(layers)
    if not names:
        raise ValueError("layers=[]: expected a layer path or a non-empty list of paths")
    sub = feature_model(cm.model, names)  # ValueError naming the valid layers for an unknown one
    x = cm.preprocess(images)             # ValueError for NaN, a bad range or shape
    parts: list[list[np.ndarray]] = [[] for _ in range(len(names) + 1)]
    for i in range(0, len(x), batch_size):
        outs = sub(x[i:i + batch_size], training=False)
        for k, a in enumerate(list(outs[:len(names)]) + [outs[-1]]):
            a = np.asarray(a, np.float32)
            parts[k].append(a.reshape(len(a), -1, a.shape[-1]).mean(axis=1) if a.ndim > 2 else a)
    arrays = [np.concatenate(p) for p in parts]
    vectors = arrays[0] if single else dict(zip(names, arrays[:-1]))
    return (vectors, arrays[-1]) if logits else vectors


def _check_vectors(vectors, what: str = "vectors") -> np.ndarray:
    v = np.asarray(vectors, np.float32)
    if v.ndim != 2 or len(v) == 0:
        raise ValueError(f"{what} of shape {np.shape(vectors)}: expected (N, C), one row per image")
    if not np.isfinite(v).all():
        raise ValueError(f"{what} contain {int(np.isnan(v).sum())} NaN and {int(np.isinf(v).sum())} infinite "
                         "values: expected finite numbers")
    return v


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
            2 <= k < N), or any other keyword of ``sklearn.manifold.TSNE`` / ``umap.UMAP``.
    Results are memoized per (vectors, method, seed, param): asking again costs a hash.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    v = _check_vectors(vectors)
    name, default = PARAMETER[method]
    if name is None and param:
        raise ValueError(f"method='pca' takes no parameters, got {sorted(param)}")
    if name is not None:
        value = param.setdefault(name, default)
        low = 2 if method == "umap" else 1
        if not (isinstance(value, (int, float, np.integer, np.floating)) and low <= value < len(v)):
            raise ValueError(f"{name}={value!r} with {len(v)} points: expected {low} <= {name} < {len(v)} "
                             f"(lower the {name} or pass more points)")
    key = (hashlib.sha1(v.tobytes()).hexdigest(), v.shape, method, seed,
           tuple(sorted((k, repr(p)) for k, p in param.items())))
    if key in _LAYOUTS:
        _LAYOUTS.move_to_end(key)
        return _LAYOUTS[key].copy()
    xy = _fit(v, method, seed, threads, dict(param)).astype(np.float32)
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
    """
    from sklearn.neighbors import NearestNeighbors

    p = _check_vectors(points, "points")
    labels = np.asarray(labels)
    if labels.shape != (len(p),):
        raise ValueError(f"labels of shape {labels.shape}: expected ({len(p)},), one per point")
    if not 1 <= k < len(p):
        raise ValueError(f"k={k!r} with {len(p)} points: expected 1 <= k < {len(p)}")
    index = NearestNeighbors(n_neighbors=k + 1).fit(p).kneighbors(p, return_distance=False)[:, 1:]
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

    def members(self, row: int, col: int) -> np.ndarray:
        """Indices of the points in cell ``(row, col)``, in input order."""
        if not (0 <= row < self.grid and 0 <= col < self.grid):
            raise ValueError(f"cell ({row}, {col}): expected 0 <= row, col < {self.grid}")
        return np.flatnonzero(self.cell == row * self.grid + col)

    def cell_box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)`` of cell ``(row, col)`` in layout coordinates."""
        x0, x1, y0, y1 = self.extent
        w, h = (x1 - x0) / self.grid, (y1 - y0) / self.grid
        return x0 + col * w, x0 + (col + 1) * w, y1 - (row + 1) * h, y1 - row * h


def grid_cells(xy: np.ndarray, vectors: np.ndarray | None = None, grid: int = 10, min_count: int = 3) -> Grid:
    """Bin the layout ``xy`` ``(N, 2)`` into a ``grid`` x ``grid`` grid over its bounding box and average
    ``vectors`` ``(N, C)`` per cell; cells with fewer than ``min_count`` points stay empty (Carter et al.
    drop them: an average of one or two images is a single image, not a region of the space)."""
    xy = _check_vectors(xy, "xy")
    if xy.shape[1] != 2:
        raise ValueError(f"xy of shape {xy.shape}: expected (N, 2), a 2-D layout")
    if not isinstance(grid, (int, np.integer)) or isinstance(grid, bool) or not 1 <= grid <= 100:
        raise ValueError(f"grid={grid!r}: expected an integer number of cells per side, 1 <= grid <= 100")
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count={min_count!r}: expected an integer >= 1")
    lo, hi = xy.min(0), xy.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    col = np.clip(((xy[:, 0] - lo[0]) / span[0] * grid).astype(int), 0, grid - 1)
    row = grid - 1 - np.clip(((xy[:, 1] - lo[1]) / span[1] * grid).astype(int), 0, grid - 1)
    cell = row * grid + col
    counts = np.bincount(cell, minlength=grid * grid).reshape(grid, grid)
    filled = counts >= min_count
    means = None
    if vectors is not None:
        v = _check_vectors(vectors)
        if len(v) != len(xy):
            raise ValueError(f"vectors have {len(v)} rows and xy {len(xy)}: expected one vector per point")
        sums = np.zeros((grid * grid, v.shape[1]), np.float64)
        np.add.at(sums, cell, v)
        means = (sums / np.maximum(counts.reshape(-1, 1), 1)).reshape(grid, grid, -1).astype(np.float32)
        means[~filled] = 0.0
    extent = (float(lo[0]), float(lo[0] + span[0]), float(lo[1]), float(lo[1] + span[1]))
    return Grid(grid, int(min_count), cell, counts, filled, means, extent)


# ---- the atlas -------------------------------------------------------------------------------------------

def directions(layer: str, vectors, cossim_pow: float = 0.0):
    """Objective: image ``i`` of the batch maximizes the direction ``vectors[i]`` ``(n, C)`` at ``layer``
    (a ``tf.Variable`` can be changed between runs of one :class:`~course_utils.optimization.Renderer`).

    With ``cossim_pow = 0`` this is :func:`course_utils.optimization.direction` per image: the mean over
    positions of ``a . v / |v|``. With ``cossim_pow > 0`` it is multiplied by ``max(cos(mean a, v), 0.1)
    ** cossim_pow`` (as Lucid's ``direction(layer, vec, cossim_pow)``), which asks the image to point
    *along* ``v`` rather than just far, so neighbouring cells do not all render the same strongest channel.
    """
    import tensorflow as tf

    def fn(a):
        t = a[layer]
        mean = tf.reduce_mean(t, axis=(1, 2)) if len(t.shape) == 4 else t
        unit = tf.math.l2_normalize(tf.convert_to_tensor(vectors, tf.float32), axis=-1)
        dot = tf.reduce_sum(mean * unit, axis=-1)
        if cossim_pow:
            cos = dot / (tf.norm(mean, axis=-1) + 1e-6)
            dot = dot * tf.maximum(cos, 0.1) ** cossim_pow
        return dot

    return opt.Objective(fn, (layer,), f"directions({layer})")


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


def _renderer(cm, layer: str, n: int, cossim_pow: float, learning_rate: float, seed: int):
    """A compiled Renderer for ``n`` directions at ``layer`` and its directions Variable, cached per model.
    A cached one for up to ``2 n`` directions is reused (padding costs less than a new trace)."""
    import tensorflow as tf

    per_model = model_cache(cm.model, "atlas_renderers")
    settings = (layer, float(cossim_pow), float(learning_rate), seed)
    sizes = sorted(k[1] for k in per_model if (k[0], *k[2:]) == settings and n <= k[1] <= 2 * n)
    key = (layer, sizes[0] if sizes else n, *settings[1:])
    if key not in per_model:
        width = int(layer_vectors(cm, np.full((1, *cm.input_size, 3), 0.5, np.float32), layer).shape[-1])
        v = tf.Variable(np.ones((n, width), np.float32))
        param = opt.Fourier(n, cm.input_size[0], seed=seed)
        per_model[key] = (opt.Renderer(cm, directions(layer, v, cossim_pow), param, transforms=None,
                                       learning_rate=learning_rate, seed=seed), v)
    return per_model[key]


def render_directions(cm: ModelLike, layer: str, vectors: np.ndarray, steps: int = 64, batch: int = 64,
                      cossim_pow: float = 2.0, learning_rate: float = 0.1, seed: int = 0,
                      progress: bool = True) -> np.ndarray:
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

    v = _check_vectors(vectors)
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch={batch!r}: expected an integer >= 1")
    renderer, variable = _renderer(cm, layer, min(batch, len(v)), cossim_pow, learning_rate, seed)
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
          steps: int = 64, batch: int = 64, seed: int = 0, progress: bool = True, **render) -> Atlas:
    """Render an activation atlas of ``layer`` from a layout ``xy`` ``(N, 2)`` of ``vectors`` ``(N, C)``
    (from :func:`layer_vectors` and :func:`project`): :func:`grid_cells`, then for every filled cell
    the feature visualization of its mean vector (:func:`render_directions`; ``render`` passes
    ``cossim_pow`` and ``learning_rate``). Empty cells stay white.
    """
    cm = course_model(cm)
    cells = grid_cells(xy, vectors, grid, min_count)
    size = cm.input_size[0]
    icons = np.ones((grid * grid, size, size, 3), np.float32)
    todo = np.flatnonzero(cells.filled.ravel())
    if len(todo):
        icons[todo] = render_directions(cm, layer, cells.means.reshape(grid * grid, -1)[todo], steps, batch,
                                        seed=seed, progress=progress, **render)
    return Atlas(layer, cells, icons.reshape(grid, grid, size, size, 3))

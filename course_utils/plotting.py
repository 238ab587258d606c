"""Figures shared by the notebooks. Every function takes plain arrays, draws, and returns the figure;
none computes anything a reader should see derived in the notebook."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Sequence

import numpy as np

from course_utils.base import check_vectors, normalize_maps, resize_map, tile

TITLE = 11  # pt: titles that read on a projector

if TYPE_CHECKING:
    from course_utils.embedding import Atlas


def _plt():
    import matplotlib.pyplot as plt

    return plt


def normalize(heatmap: np.ndarray) -> np.ndarray:
    """Scale one ``(h, w)`` map to [0, 1] by its own min and max; a constant map becomes all zeros
    (never NaN). The one-map form of :func:`course_utils.base.normalize_maps`."""
    _one_map(heatmap)
    return normalize_maps(np.asarray(heatmap)[None])[0]


def _one_map(heatmap) -> None:
    if np.ndim(heatmap) != 2:
        raise ValueError(f"heatmap of shape {np.shape(heatmap)}: expected one map (h, w); pick one with maps[i]")


def overlay(image: np.ndarray, heatmap: np.ndarray, ax=None, alpha: float = 0.5, cmap: str = "jet",
            title: str | None = None):
    """Draw ``image`` ``(H, W, 3)`` with ``heatmap`` ``(h, w)`` (resized, normalized) on top."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(3, 3))[1]
    ax.imshow(image)
    ax.imshow(normalize(resize_map(heatmap, image.shape[:2])), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE)
    return ax.figure


def signed_overlay(image: np.ndarray, heatmap: np.ndarray, ax=None, limit: float | None = None, alpha: float = 0.7,
                   title: str | None = None):
    """Draw a *signed* ``heatmap`` ``(h, w)`` (resized, not normalized) over ``image`` ``(H, W, 3)`` in gray, on a
    diverging colormap centred at zero (red for, blue against, white nothing), from ``-limit`` to ``limit``
    (default: the map's largest magnitude). Returns the map's ``AxesImage`` for ``fig.colorbar``."""
    plt = _plt()
    _one_map(heatmap)
    ax = ax or plt.subplots(figsize=(3, 3))[1]
    heat = resize_map(np.asarray(heatmap, np.float32), image.shape[:2])
    limit = float(limit if limit is not None else np.abs(heat).max()) or 1.0  # an all-zero map: white, not NaN
    image = np.asarray(image)
    ax.imshow(image.mean(-1) if image.ndim == 3 else image, cmap="gray", vmin=0, vmax=1)
    shown = ax.imshow(heat, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=alpha)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE)
    return shown


def show_images(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 8,
                size: float = 1.6, cmap: str | None = None, suptitle: str | None = None):
    """A grid of images (``(H, W, 3)`` in [0, 1] or ``(H, W)`` maps) with optional titles."""
    plt = _plt()
    n = len(images)
    if n == 0:
        raise ValueError("no images to show: expected at least one image")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False, layout="constrained")  # titles and suptitle never overlap the images
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(textwrap.fill(str(titles[i]), max(8, int(size * 11))), fontsize=TITLE)
    if suptitle:
        fig.suptitle(suptitle, fontsize=TITLE + 1)
    return fig


def activation_grid(acts: np.ndarray, image: np.ndarray | None = None, channels: Sequence[int] | None = None,
                    ncols: int = 16, cmap: str = "inferno", ax=None,
                    title: str | None = None, cell: float = 0.75, peaks: Sequence[float] | None = None):
    """Every channel of one image's activations ``acts`` ``(h, w, c)`` as a heatmap (warm = high).

    Each map is scaled to its own maximum, or to ``peaks`` ``(len(channels),)``, e.g. each channel's
    maximum over several images, so that grids of different images compare channel by channel (weak
    maps stay dark). With ``image`` ``(H, W, 3)``, each map is resized and blended over it. Channel
    numbers are written in the corner of each cell (up to 48 cells).
    """
    from matplotlib import patheffects

    plt = _plt()
    acts = np.asarray(acts, np.float32)
    if acts.ndim != 3:
        raise ValueError(f"acts of shape {acts.shape}: expected one image's activations (h, w, channels)")
    channels = list(range(acts.shape[-1])) if channels is None else list(channels)
    bad = [c for c in channels if not 0 <= c < acts.shape[-1]]
    if bad:
        raise ValueError(f"channels {bad}: expected 0 <= channel < {acts.shape[-1]}")
    maps = np.moveaxis(acts[..., channels], -1, 0)
    if peaks is not None:
        peak = np.asarray(peaks, np.float32).reshape(-1, 1, 1)
        if len(peak) != len(channels) or not np.isfinite(peak).all():
            raise ValueError(f"peaks of shape {np.shape(peaks)}: expected {len(channels)} finite numbers, "
                             "one per channel")
    else:
        peak = maps.max(axis=(1, 2), keepdims=True)
    maps = np.clip(maps / np.maximum(peak, 1e-8), 0, 1)
    colours = plt.get_cmap(cmap)(maps)[..., :3]
    if image is not None:
        colours = np.stack([upsample_rgb(c, image.shape[:2]) for c in colours])
        weight = np.stack([resize_map(m, image.shape[:2]) for m in maps])[..., None].clip(0, 1)
        colours = (1 - 0.7 * weight) * image + 0.7 * weight * colours
    ncols = min(ncols, len(channels))
    mosaic = tile(colours, ncols)
    if ax is None:
        aspect = mosaic.shape[0] / mosaic.shape[1]
        ax = plt.subplots(figsize=(cell * ncols, cell * ncols * aspect + (0.3 if title else 0)))[1]
    ax.imshow(mosaic, interpolation="nearest")
    if len(channels) <= 48:
        h, w = colours.shape[1:3]
        for i, c in enumerate(channels):
            r, k = divmod(i, ncols)
            ax.text(k * (w + 1) + 0.5, r * (h + 1) + 0.5, str(c), fontsize=9, color="w", va="top",
                    path_effects=[patheffects.withStroke(linewidth=2, foreground="k")])  # legible on any map
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE)
    return ax.figure


def upsample_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an ``(h, w, 3)`` float image to ``size`` ``(H, W)``."""
    if np.ndim(image) != 3:
        raise ValueError(f"image of shape {np.shape(image)}: expected one image (h, w, 3)")
    return np.stack([resize_map(image[..., k], size) for k in range(image.shape[-1])], -1)


# ---- t-SNE / UMAP layouts and activation atlases (notebooks/07) ----------------------------------------

def _thumbnail_canvas(images: np.ndarray, xy: np.ndarray, extent, grid: int, pixels: int = 32) -> np.ndarray:
    """RGBA canvas ``(grid * pixels, grid * pixels, 4)``: in each cell of a ``grid`` x ``grid`` binning of
    ``extent``, the thumbnail of the point nearest the cell's centre (transparent where a cell is empty)."""
    from PIL import Image

    x0, x1, y0, y1 = extent
    canvas = np.zeros((grid * pixels, grid * pixels, 4), np.float32)
    cx = (xy[:, 0] - x0) / max(x1 - x0, 1e-12) * grid
    cy = (y1 - xy[:, 1]) / max(y1 - y0, 1e-12) * grid
    col, row = np.clip(cx.astype(int), 0, grid - 1), np.clip(cy.astype(int), 0, grid - 1)
    dist = (cx - col - 0.5) ** 2 + (cy - row - 0.5) ** 2
    best: dict[tuple[int, int], int] = {}
    for i in np.argsort(dist):
        best.setdefault((row[i], col[i]), i)
    for (r, c), i in best.items():
        thumb = Image.fromarray((np.clip(images[i], 0, 1) * 255).astype(np.uint8)).resize((pixels - 2, pixels - 2))
        canvas[r * pixels + 1:(r + 1) * pixels - 1, c * pixels + 1:(c + 1) * pixels - 1, :3] = np.asarray(thumb) / 255
        canvas[r * pixels + 1:(r + 1) * pixels - 1, c * pixels + 1:(c + 1) * pixels - 1, 3] = 1.0
    return canvas


def plot_layout(xy: np.ndarray, labels: np.ndarray, class_names: Sequence[str] | None = None,
                images: np.ndarray | None = None, wrong: np.ndarray | None = None, thumbs: int = 12,
                ax=None, title: str | None = None, legend: bool = True, size: float = 5.0):
    """Scatter of a layout ``xy`` ``(N, 2)`` coloured by ``labels``; ``wrong`` (bool ``(N,)``) marks
    misclassified points with a black ring; with ``images`` ``(N, H, W, 3)``, a ``thumbs`` x ``thumbs``
    grid of thumbnails (the image nearest each cell's centre) is drawn faintly underneath."""
    import matplotlib.pyplot as plt

    xy, labels = check_vectors(xy, "xy", width=2), np.asarray(labels)
    for name, arr in (("labels", labels), ("wrong", wrong), ("images", images)):
        if arr is not None and (np.ndim(arr) < 1 or len(arr) != len(xy)):
            raise ValueError(f"{name} of shape {np.shape(arr)} for {len(xy)} points: expected one per point of xy")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels of dtype {labels.dtype}: expected integer class indices")
    ax = ax or plt.subplots(figsize=(size, size))[1]
    lo, hi = xy.min(0), xy.max(0)
    pad = 0.03 * np.where(hi > lo, hi - lo, 1.0)  # identical points: a unit box around them
    extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    if images is not None:
        ax.imshow(_thumbnail_canvas(images, xy, extent, thumbs), extent=extent, alpha=0.75, zorder=0,
                  interpolation="bilinear")
    colors = plt.get_cmap("tab10")(labels % 10)
    ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=6 if images is None else 4, linewidths=0, zorder=1)
    if wrong is not None and np.any(wrong):
        ax.scatter(xy[wrong, 0], xy[wrong, 1], s=14, facecolors="none", edgecolors="k", linewidths=0.5, zorder=2)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("auto")
    ax.set_xticks([])
    ax.set_yticks([])
    if legend and class_names is not None:
        handles = [plt.Line2D([], [], ls="", marker="o", ms=4, color=plt.get_cmap("tab10")(k), label=n)
                   for k, n in enumerate(class_names) if k in set(labels.tolist())]
        if wrong is not None:
            handles.append(plt.Line2D([], [], ls="", marker="o", ms=5, mfc="none", mec="k", label="misclassified"))
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8, markerscale=1)
    if title:
        ax.set_title(title, fontsize=TITLE)
    return ax.figure


def plot_atlas(result: "Atlas", ax=None, title: str | None = None, counts: bool = False, size: float = 5.0,
               captions: np.ndarray | None = None, fontsize: float = 10):
    """The atlas icons as one mosaic (empty cells white). With ``counts``, each cell's number of images;
    ``captions`` ``(grid, grid)`` strings go under the icons (e.g. each cell's dominant class and its
    share, :func:`course_utils.embedding.majority_captions`)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(size, size))[1]
    ax.imshow(result.mosaic(), interpolation="nearest")
    ax.set_axis_off()
    step = result.icons.shape[2] + 1
    box = dict(boxstyle="square,pad=0.1", fc="k", ec="none", alpha=0.6)
    if counts:
        for r, c in zip(*np.nonzero(result.cells.filled)):
            ax.text(c * step + 1, r * step + 1, str(result.cells.counts[r, c]), fontsize=fontsize, color="w",
                    va="top", bbox=box)
    if captions is not None:
        if np.shape(captions) != result.cells.counts.shape:
            raise ValueError(f"captions of shape {np.shape(captions)}: expected {result.cells.counts.shape}, "
                             "one per cell")
        for r, c in zip(*np.nonzero(np.asarray(captions, str) != "")):
            ax.text(c * step + 1, (r + 1) * step - 2, captions[r][c], fontsize=fontsize, color="w", va="bottom",
                    bbox=box)
    ax.set_title(title or f"{result.layer}: {result.cells.n_filled} of {result.cells.grid ** 2} cells "
                          f"(at least {result.cells.min_count} images each)", fontsize=fontsize + 2)
    return ax.figure

"""Figures shared by the notebooks. Every function takes plain arrays, draws, and returns the figure;
none computes anything a reader should see derived in the notebook."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def normalize(heatmap: np.ndarray) -> np.ndarray:
    """Scale one ``(h, w)`` map to [0, 1] by its own min and max; a constant map becomes all zeros
    (never NaN). The one-map form of :func:`course_utils.attribution.normalize_maps`."""
    from course_utils.attribution import normalize_maps

    _one_map(heatmap)
    return normalize_maps(np.asarray(heatmap)[None])[0]


def _one_map(heatmap) -> None:
    if np.ndim(heatmap) != 2:
        raise ValueError(f"heatmap of shape {np.shape(heatmap)}: expected one map (h, w); pick one with maps[i]")


def upsample(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an ``(h, w)`` map to ``size`` ``(H, W)`` (for overlays on the input image)."""
    from PIL import Image

    _one_map(heatmap)
    img = Image.fromarray(np.asarray(heatmap, np.float32), mode="F")
    return np.asarray(img.resize((size[1], size[0]), Image.BILINEAR), np.float32)


def overlay(image: np.ndarray, heatmap: np.ndarray, ax=None, alpha: float = 0.5, cmap: str = "jet",
            title: str | None = None):
    """Draw ``image`` ``(H, W, 3)`` with ``heatmap`` ``(h, w)`` (resized, normalized) on top."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(3, 3))[1]
    ax.imshow(image)
    ax.imshow(normalize(upsample(heatmap, image.shape[:2])), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


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
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def tile(maps: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Mosaic of ``maps`` ``(n, h, w)`` or ``(n, h, w, 3)`` in rows of ``ncols``, ``pad`` pixels apart.

    One array drawn by one ``imshow`` is ~20x faster than a grid of axes, which keeps widgets snappy.
    """
    maps = np.asarray(maps)
    if not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols={ncols!r}: expected a whole number >= 1")
    n, h, w = maps.shape[:3]
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, *maps.shape[3:]), fill, np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = maps[i]
    return out


def activation_grid(acts: np.ndarray, image: np.ndarray | None = None, channels: Sequence[int] | None = None,
                    ncols: int = 16, cmap: str = "inferno", shared_scale: bool = False, ax=None,
                    title: str | None = None, cell: float = 0.75):
    """Every channel of one image's activations ``acts`` ``(h, w, c)`` as a heatmap (warm = high).

    Each map is scaled to its own maximum, or with ``shared_scale`` to the layer's maximum (then
    weak and dead channels stay dark). With ``image`` ``(H, W, 3)``, each map is resized and blended
    over it. Channel numbers are written in the corner of each cell (up to 48 cells).
    """
    plt = _plt()
    acts = np.asarray(acts, np.float32)
    if acts.ndim != 3:
        raise ValueError(f"acts of shape {acts.shape}: expected one image's activations (h, w, channels)")
    channels = list(range(acts.shape[-1])) if channels is None else list(channels)
    bad = [c for c in channels if not 0 <= c < acts.shape[-1]]
    if bad:
        raise ValueError(f"channels {bad}: expected 0 <= channel < {acts.shape[-1]}")
    maps = np.moveaxis(acts[..., channels], -1, 0)
    peak = maps.max() if shared_scale else maps.max(axis=(1, 2), keepdims=True)
    maps = np.clip(maps / np.maximum(peak, 1e-8), 0, 1)
    colours = plt.get_cmap(cmap)(maps)[..., :3]
    if image is not None:
        colours = np.stack([upsample_rgb(c, image.shape[:2]) for c in colours])
        weight = np.stack([upsample(m, image.shape[:2]) for m in maps])[..., None].clip(0, 1)
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
            ax.text(k * (w + 1) + 0.5, r * (h + 1) + 0.5, str(c), fontsize=6, color="w", va="top")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def upsample_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an ``(h, w, 3)`` float image to ``size`` ``(H, W)``."""
    if np.ndim(image) != 3:
        raise ValueError(f"image of shape {np.shape(image)}: expected one image (h, w, 3)")
    return np.stack([upsample(image[..., k], size) for k in range(image.shape[-1])], -1)

"""Which input regions matter for a class, found without gradients: change the input, watch the score.

- :func:`occlusion`  Zeiler & Fergus 2014, arXiv:1311.2901: slide a patch of the image's mean colour over it;
  a pixel's value is the mean drop of the target's **logit** over the patches that cover it;
- :func:`rise`       Petsiuk, Das & Saenko 2018, arXiv:1806.07421: keep random smooth masks of the image;
  a pixel's value is the mean **probability** of the target over the masks that keep it (the paper's score).

Both take model inputs ``x`` ``(N, H, W, 3)`` (``CourseModel.preprocess`` output) and class targets (an index
or one per image), run every perturbed copy through one compiled forward pass in batches bounded by
:func:`~course_utils.base.batch_for`, and return maps ``(N, H, W)`` normalized per image to [0, 1] (an
all-zero map stays zero, never NaN). They need one forward pass per copy: ``occlusion`` makes
``ceil((H - patch) / stride + 1) ** 2`` copies of each image, ``rise`` ``masks`` copies. Score-CAM, which masks
the input with a layer's own feature maps, is in :mod:`course_utils.cam`. Introduced in notebooks/06_grad_cam.ipynb.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from course_utils.base import (BATCH_PIXELS, ModelLike, Target, batch_for, check_number, check_target, check_x,
                               keras_model, model_cache, normalize_maps)


def _compiled_logits(model):
    """``x (N, H, W, 3) -> logits``, one ``tf.function`` per model (any batch size)."""
    import tensorflow as tf

    cache = model_cache(model, "logits")
    if "fn" not in cache:
        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        cache["fn"] = tf.function(lambda xb: model(xb, training=False), input_signature=[spec])
    return cache["fn"]


def perturbed_logits(model, count: int, make: Callable[[int, int], np.ndarray], batch_size: int, progress: bool,
                      desc: str) -> np.ndarray:
    """Logits ``(count, classes)`` of perturbed copies ``make(start, stop) -> (stop - start, H, W, 3)`` of a
    model's inputs, made and run ``batch_size`` at a time through one compiled pass, so memory holds one batch
    of copies, never all of them (occlusion, RISE, Score-CAM)."""
    from tqdm.auto import tqdm

    model = keras_model(model)
    fn = _compiled_logits(model)
    starts = tqdm(range(0, count, batch_size), desc=desc, disable=not progress, leave=False)
    return np.concatenate([fn(check_x(model, make(start, min(count, start + batch_size)))).numpy() for start in starts])


def _setup(model, x, target, batch_size):
    """The model, checked inputs and class targets, and the batch size for forward-only passes."""
    model = keras_model(model)
    x = check_x(model, x)
    target = check_target(target, len(x), model.outputs[0].shape[-1])
    if callable(target):
        raise ValueError("perturbation maps take class indices as target (one, or one per image), not a callable")
    return model, x, target, batch_for(x, batch_size, 2 * BATCH_PIXELS)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch positions along one side, the last one flush with the edge so that every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    return starts if starts[-1] == size - patch else starts + [size - patch]


def occlusion(model: ModelLike, x, target: Target, patch: int = 8, stride: int = 4, batch_size: int | None = None,
              progress: bool = False, normalize: bool = True) -> np.ndarray:
    """Occlusion sensitivity maps ``(N, H, W)``: a ``patch`` x ``patch`` square filled with the image's mean
    colour slides over each input in steps of ``stride``; each pixel gets the mean drop of the target's logit
    over the patches that cover it. ``normalize=False`` returns the drops as they are (negative where hiding a
    region raises the score), else their positive part scaled to [0, 1]. Copies go through the model
    ``batch_size`` at a time (default: 128 scenes of 64 px, 10 photos of 224 px)."""
    model, x, target, batch_size = _setup(model, x, target, batch_size)
    h, w = x.shape[1:3]
    patch = check_number("patch", patch, 1, min(h, w), integer=True)
    stride = check_number("stride", stride, 1, min(h, w), integer=True)
    positions = [(y, xx) for y in _starts(h, patch, stride) for xx in _starts(w, patch, stride)]
    maps = np.zeros(x.shape[:3], np.float32)
    for i in range(len(x)):
        fill = x[i].mean(axis=(0, 1))

        def make(start, stop):
            copies = np.repeat(x[i:i + 1], stop - start, axis=0)
            for k, (y, xx) in enumerate(positions[start:stop]):
                copies[k, y:y + patch, xx:xx + patch] = fill
            return copies

        base = _compiled_logits(model)(x[i:i + 1]).numpy()[0, target[i]]
        drops = base - perturbed_logits(model, len(positions), make, batch_size, progress,
                                         f"occlusion {i + 1}/{len(x)}")[:, target[i]]
        total, count = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        for (y, xx), drop in zip(positions, drops):
            total[y:y + patch, xx:xx + patch] += drop
            count[y:y + patch, xx:xx + patch] += 1
        maps[i] = total / count
    return normalize_maps(np.maximum(maps, 0)) if normalize else maps


def _rise_grids(n: int, size: tuple[int, int], cells: int, keep: float, seed: int):
    """The random part of :func:`rise_masks`: kept cells ``(n, cells, cells, 1)`` and crop offsets."""
    n = check_number("n", n, 1, integer=True)
    h, w = (int(s) for s in size)
    cells = check_number("cells", cells, 1, min(h, w), integer=True)
    keep = check_number("keep", keep, 0, 1, low_open=True)
    rng = np.random.default_rng(seed)
    grid = (rng.random((n, cells, cells, 1)) < keep).astype(np.float32)
    ch, cw = -(-h // cells), -(-w // cells)  # cell size, rounded up
    return grid, rng.integers(0, ch, n), rng.integers(0, cw, n), (ch, cw)


def _upsample(grid, dy, dx, cell: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    (ch, cw), (h, w), cells = cell, size, grid.shape[1]
    big = tf.image.resize(grid, ((cells + 1) * ch, (cells + 1) * cw), "bilinear").numpy()[..., 0]
    return np.stack([big[k, dy[k]:dy[k] + h, dx[k]:dx[k] + w] for k in range(len(grid))])


def rise_masks(n: int, size: tuple[int, int], cells: int = 8, keep: float = 0.5, seed: int = 0) -> np.ndarray:
    """RISE's masks ``(n, H, W)`` in [0, 1]: a ``cells`` x ``cells`` grid of cells kept with probability
    ``keep``, upsampled bilinearly to ``cells + 1`` cells and cropped at a random offset (so the smooth edges
    fall anywhere, not on a fixed grid)."""
    grid, dy, dx, cell = _rise_grids(n, size, cells, keep, seed)
    return _upsample(grid, dy, dx, cell, size)


def rise(model: ModelLike, x, target: Target, masks: int = 1000, cells: int = 8, keep: float = 0.5, seed: int = 0,
         batch_size: int | None = None, progress: bool = False) -> np.ndarray:
    """RISE maps ``(N, H, W)``: ``sum_i P(target | x * M_i) M_i / (masks * keep)`` over the ``masks`` masks of
    :func:`rise_masks` (the same masks for every image), scaled to [0, 1]. The paper used 4,000-8,000 masks of
    a 7x7 grid for 224 px ImageNet inputs; fewer give a noisier map (its error falls as ``1 / sqrt(masks)``).
    Masks are made and run ``batch_size`` at a time (default as :func:`occlusion`)."""
    from scipy.special import softmax
    from tqdm.auto import tqdm

    model, x, target, batch_size = _setup(model, x, target, batch_size)
    grid, dy, dx, cell = _rise_grids(masks, x.shape[1:3], cells, keep, seed)
    fn = _compiled_logits(model)
    maps = np.zeros(x.shape[:3], np.float32)
    for start in tqdm(range(0, masks, batch_size), desc="RISE", disable=not progress, leave=False):
        stop = min(masks, start + batch_size)
        m = _upsample(grid[start:stop], dy[start:stop], dx[start:stop], cell, x.shape[1:3])  # made once per batch
        for i in range(len(x)):
            logits = fn(x[i] * m[..., None]).numpy()
            maps[i] += np.tensordot(softmax(logits, axis=-1)[:, target[i]], m, 1)
    return normalize_maps(maps / (masks * keep))


METHODS = {"occlusion": occlusion, "rise": rise}

"""Fashion-MNIST and :class:`FashionScenes`, 64x64 RGB scenes with ground-truth masks.

Fashion-MNIST (Xiao et al. 2017, https://github.com/zalandoresearch/fashion-mnist, MIT licence)
comes from, in this order:

1. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``);
2. ``keras.datasets.fashion_mnist`` when the network answers;
3. the stratified sample committed in ``data/fashion_mnist_sample.npz`` (``make_sample``).

Scenes place one or two real items at random scale, position and tint on a textured background,
and keep the mask and box of every item: the ground truth that lets the course *measure* whether
a heatmap points at the evidence (pointing game).
"""

from __future__ import annotations

import functools
import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils import DATA_DIR
from course_utils.base import network_available

log = logging.getLogger(__name__)

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_PATH = DATA_DIR / "fashion_mnist_sample.npz"
SOURCES = ("debian", "keras", "sample")
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the MNIST container format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _from_debian(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = (DEBIAN_DIR / f for f in _FILES[split])
    if not images.exists():
        raise FileNotFoundError(f"{images} (apt-get install dataset-fashion-mnist)")
    return _read_idx(images), _read_idx(labels)


def _from_keras(split: str) -> tuple[np.ndarray, np.ndarray]:
    if not network_available():
        raise ConnectionError("no network to download keras.datasets.fashion_mnist")
    import keras

    train, test = keras.datasets.fashion_mnist.load_data()
    return train if split == "train" else test


def _from_sample(split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(SAMPLE_PATH) as z:
        return z[f"x_{split}"], z[f"y_{split}"]


_LOADERS = {"debian": _from_debian, "keras": _from_keras, "sample": _from_sample}


@functools.lru_cache(maxsize=8)
def load_fashion_mnist(split: str = "train", source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST items ``(N, 28, 28) uint8`` and labels ``(N,) uint8`` for ``split``.

    ``source="auto"`` tries the Debian package, then Keras (online), then the committed sample,
    and logs which one it used. Raises ``FileNotFoundError`` naming all three if none works.
    """
    if split not in _FILES:
        raise ValueError(f"split={split!r}: expected one of {tuple(_FILES)}")
    if source != "auto" and source not in SOURCES:
        raise ValueError(f"source={source!r}: expected 'auto' or one of {SOURCES}")
    errors = []
    for name in SOURCES if source == "auto" else (source,):
        try:
            x, y = _LOADERS[name](split)
        except (OSError, ConnectionError, KeyError, ValueError) as e:
            errors.append(f"{name}: {e}")
            continue
        log.info("Fashion-MNIST %s: %d items from %s", split, len(x), name)
        return np.ascontiguousarray(x), np.ascontiguousarray(y)
    raise FileNotFoundError(
        "Fashion-MNIST not found. Install the Debian package (apt-get install dataset-fashion-mnist), "
        f"go online for keras.datasets.fashion_mnist, or restore {SAMPLE_PATH}. Tried: " + "; ".join(errors)
    )


def make_sample(per_class: tuple[int, int] = (200, 60), seed: int = 0, path: Path = SAMPLE_PATH) -> Path:
    """Write the stratified fallback sample (``per_class`` train/test items of each class)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, k in zip(("train", "test"), per_class):
        x, y = load_fashion_mnist(split, source="debian")
        idx = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in range(10)])
        idx.sort()
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[idx], y[idx]
    np.savez_compressed(path, **arrays)
    return path


@dataclass
class Scenes:
    """A batch of scenes. ``K`` is the number of items per scene (1 or 2).

    images: ``(N, H, W, 3) float32`` in [0, 1]; labels: ``(N, K) int64``;
    masks: ``(N, K, H, W) bool``, the visible pixels of each item;
    boxes: ``(N, K, 4) int64`` as ``(y0, x0, y1, x1)``, end-exclusive, tight around each mask;
    marks: ``(N, H, W) bool``, the pixels of the watermark (all False without one, see :func:`stamp_mark`).
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    marks: np.ndarray | None = None

    def __post_init__(self):
        if self.marks is None:
            self.marks = np.zeros((len(self.images), *self.images.shape[1:3]), bool)

    @property
    def label(self) -> np.ndarray:
        """``(N,)`` label of the first item."""
        return self.labels[:, 0]

    @property
    def mask(self) -> np.ndarray:
        """``(N, H, W)`` union of all items' masks."""
        return self.masks.any(axis=1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i) -> "Scenes":
        i = slice(i, i + 1) if isinstance(i, (int, np.integer)) else i
        return Scenes(self.images[i], self.labels[i], self.masks[i], self.boxes[i], self.marks[i])


def _upsample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` bilinear interpolation matrix (align-corners)."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.floor(pos).astype(int).clip(0, n_in - 2)
    frac = pos - lo
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] = 1 - frac
    m[np.arange(n_out), lo + 1] = frac
    return m


def _resize(item: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a ``(28, 28)`` float item to ``(size, size)``."""
    m = _upsample_matrix(item.shape[0], size)
    return m @ item @ m.T


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorized HSV -> RGB for arrays of shape ``(N,)``; returns ``(N, 3)``."""
    k = (np.array([5.0, 3.0, 1.0]) + h[:, None] * 6) % 6
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)


class FashionScenes:
    """Deterministic generator of Fashion-MNIST scenes.

    Args:
        split: ``"train"`` or ``"test"``: which Fashion-MNIST items to place (held-out scenes use test).
        items: 1 to 4 items per scene (no two share a class; each later item takes the least covered of 20
            places, so they overlap little): with several, a map for one item's class must find that item.
        size: scene side in pixels.
        scale: range of item side in pixels (items are 28x28, resized); default (28, 44) for one
            item, (22, 34) for two so that both fit side by side, (18, 28) for three or four.
        background: ``"texture"`` (random colour field plus stripes) or ``"plain"`` (one grey level).
        seed: base seed; ``generate(n)`` with the same seed returns the same scenes.
        source: Fashion-MNIST source, see :func:`load_fashion_mnist`.
        mark_class: if set, scenes whose (first) item is of this class carry a small watermark
            (:func:`stamp_mark`) with probability ``mark_rate``: the spurious shortcut of notebook 06.
            The scenes are otherwise identical to those without a mark (same seed, same items).
        mark_rate: probability that a ``mark_class`` scene carries the mark.
        colour_class: if set, items of this class are painted the cue colour (hue ``colour_hue``, saturation
            0.87, value 0.95: :data:`CUE_SV`; red by default) with probability ``colour_rate``, and every other
            item's hue is moved out of the cue's band (a hue within :data:`CUE_BAND` of ``colour_hue`` turns by
            half a circle): the colour then means this class, a colour shortcut (notebook 08). Scenes with another
            ``colour_class``, ``colour_rate`` or ``colour_hue`` and the same seed hold the same items at the same
            places; only their tints differ.
        colour_rate: probability that a ``colour_class`` item is painted the cue colour.
        colour_hue: the cue colour's hue in [0, 1) (0 red, 1/3 green, 2/3 blue).

    Example: ``scenes = FashionScenes("test", seed=1).generate(200)``.
    """

    def __init__(self, split: str = "test", items: int = 1, size: int = 64, scale: tuple[int, int] | None = None,
                 background: str = "texture", seed: int = 0, source: str = "auto",
                 mark_class: int | None = None, mark_rate: float = 1.0,
                 colour_class: int | None = None, colour_rate: float = 1.0, colour_hue: float = 0.0):
        if items not in (1, 2, 3, 4):
            raise ValueError(f"items={items!r}: expected 1, 2, 3 or 4")
        if background not in ("texture", "plain"):
            raise ValueError(f"background={background!r}: expected 'texture' or 'plain'")
        for name, cls, rate in (("mark", mark_class, mark_rate), ("colour", colour_class, colour_rate)):
            if cls is not None and cls not in range(len(CLASS_NAMES)):
                raise ValueError(f"{name}_class={cls!r}: expected None or a class index in [0, {len(CLASS_NAMES) - 1}]")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}_rate={rate!r}: expected a probability in [0, 1]")
        self.mark_class, self.mark_rate = mark_class, mark_rate
        if not 0.0 <= colour_hue < 1.0:
            raise ValueError(f"colour_hue={colour_hue!r}: expected a hue in [0, 1)")
        self.colour_class, self.colour_rate, self.colour_hue = colour_class, colour_rate, colour_hue
        scale = scale or {1: (28, 44), 2: (22, 34)}.get(items, (18, 28))
        if not (8 <= scale[0] <= scale[1] <= size):
            raise ValueError(f"scale={scale!r}: expected 8 <= min <= max <= size={size}")
        self.split, self.items, self.size, self.scale = split, items, size, scale
        self.background, self.seed = background, seed
        self.x, self.y = load_fashion_mnist(split, source)

    def _backgrounds(self, rng: np.random.Generator, n: int) -> np.ndarray:
        s = self.size
        if self.background == "plain":
            return np.broadcast_to(rng.uniform(0.2, 0.5, (n, 1, 1, 1)), (n, s, s, 3)).astype(np.float32)
        coarse = rng.uniform(0.0, 1.0, (n, 5, 5, 3)).astype(np.float32)
        level = rng.uniform(0.15, 0.5, (n, 1, 1, 1))
        theta, freq, phase = rng.uniform(0, np.pi, n), rng.uniform(0.1, 0.6, n), rng.uniform(0, 2 * np.pi, n)
        stripes = rng.uniform(0.0, 0.08, (n, 1, 1))
        grain = rng.normal(0, 0.02, (n, s, s, 1))
        m = _upsample_matrix(5, s)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        out = np.empty((n, s, s, 3), np.float32)
        for p in range(0, n, 128):  # the float64 temporaries of 128 scenes at a time, not of all n
            q = slice(p, p + 128)
            field = np.matmul(m, np.matmul(m, coarse[q].transpose(0, 3, 1, 2)).transpose(0, 1, 3, 2))  # (b, 3, w, h)
            field = level[q] + 0.25 * (field.transpose(0, 3, 2, 1) - 0.5)
            angle = np.cos(theta[q])[:, None, None] * xx + np.sin(theta[q])[:, None, None] * yy
            wave = np.sin(freq[q, None, None] * angle + phase[q, None, None])
            out[q] = np.clip(field + (stripes[q] * wave)[..., None] + grain[q], 0, 1)
        return out

    def generate(self, n: int, seed: int | None = None) -> Scenes:
        """Render ``n`` scenes; ``seed`` defaults to the generator's seed."""
        if n < 1:
            raise ValueError(f"n={n!r}: expected a positive number of scenes")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        s, k = self.size, self.items
        images = self._backgrounds(rng, n)
        labels = np.zeros((n, k), np.int64)
        masks = np.zeros((n, k, s, s), bool)
        hue, sat, val = rng.uniform(0, 1, (n, k)), rng.uniform(0.0, 0.9, (n, k)), rng.uniform(0.75, 1.0, (n, k))
        if self.colour_class is not None:  # the cue's hue is kept for the cue: other items turn half a circle
            d = np.abs(hue - self.colour_hue)
            hue = np.where(np.minimum(d, 1 - d) < CUE_BAND, (hue + 0.5) % 1, hue)
            cue = _hsv_to_rgb(np.array([self.colour_hue]), np.array([CUE_SV[0]]), np.array([CUE_SV[1]]))[0]
            painted = np.random.default_rng([CUE_SEED, self.seed if seed is None else seed]).uniform(
                size=(n, k)) < self.colour_rate
        tints = _hsv_to_rgb(hue.ravel(), sat.ravel(), val.ravel()).reshape(n, k, 3).astype(np.float32)
        for i in range(n):
            taken = np.zeros((s, s), bool)
            for j in range(k):
                idx = rng.integers(len(self.x))
                while self.y[idx] in labels[i, :j]:
                    idx = rng.integers(len(self.x))
                labels[i, j] = self.y[idx]
                if self.colour_class is not None and labels[i, j] == self.colour_class and painted[i, j]:
                    tints[i, j] = cue
                side = int(rng.integers(self.scale[0], self.scale[1] + 1))
                item = _resize(self.x[idx].astype(np.float32) / 255.0, side)
                y0, x0 = rng.integers(0, s - side + 1, 2)
                for _ in range(20 if j else 0):  # second item: the place that overlaps the first least
                    yt, xt = rng.integers(0, s - side + 1, 2)
                    if taken[yt:yt + side, xt:xt + side].sum() < taken[y0:y0 + side, x0:x0 + side].sum():
                        y0, x0 = yt, xt
                alpha = np.clip(8.0 * (item - 0.04), 0, 1)[..., None]  # clear below the 4% noise floor
                colour = tints[i, j] * (0.35 + 0.65 * item[..., None])
                patch = images[i, y0:y0 + side, x0:x0 + side]
                patch[:] = (1 - alpha) * patch + alpha * colour
                mask = np.zeros((s, s), bool)
                mask[y0:y0 + side, x0:x0 + side] = alpha[..., 0] > 0.5
                masks[i, :j] &= ~mask  # a later item hides what it covers
                masks[i, j] = mask
                taken |= mask
        scenes = Scenes(images, labels, masks, masks_to_boxes(masks))
        if self.mark_class is None:
            return scenes
        mrng = np.random.default_rng([MARK_SEED, self.seed if seed is None else seed])
        which = (scenes.label == self.mark_class) & (mrng.uniform(size=n) < self.mark_rate)
        return stamp_mark(scenes, which, seed=self.seed if seed is None else seed)


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight ``(y0, x0, y1, x1)`` end-exclusive boxes of boolean masks ``(..., H, W)``; empty -> zeros."""
    if np.ndim(masks) < 2:
        raise ValueError(f"masks of shape {np.shape(masks)}: expected boolean masks (..., H, W)")
    rows, cols = masks.any(-1), masks.any(-2)
    h, w = masks.shape[-2:]
    y0 = np.where(rows.any(-1), rows.argmax(-1), 0)
    y1 = np.where(rows.any(-1), h - rows[..., ::-1].argmax(-1), 0)
    x0 = np.where(cols.any(-1), cols.argmax(-1), 0)
    x1 = np.where(cols.any(-1), w - cols[..., ::-1].argmax(-1), 0)
    return np.stack([y0, x0, y1, x1], -1).astype(np.int64)


MARK_SEED = 404
CUE_SEED = 505
CUE_SV = (1 - 0.12 / 0.95, 0.95)  #: saturation and value of the colour cue: red is RGB (0.95, 0.12, 0.12)
CUE_BAND = 0.1  #: hues within this distance of the cue's are kept for the cue when ``colour_class`` is set
MARK = np.kron(np.indices((3, 3)).sum(0) % 2, np.ones((2, 2))).astype(np.float32)  # 6x6 black/white checker


def stamp_mark(scenes: Scenes, which: np.ndarray | bool = True, seed: int = 0) -> Scenes:
    """A copy of ``scenes`` with a 6x6 black-and-white checker stamped near a random corner of every
    scene where ``which`` ``(N,) bool`` is True. Positions come from their own generator (``seed``),
    so the same scenes can be compared with and without the mark. Item masks lose the covered pixels."""
    n, s = len(scenes), scenes.images.shape[1]
    which = np.broadcast_to(np.asarray(which, bool), (n,))
    rng = np.random.default_rng([MARK_SEED, seed, 1])
    corner = rng.integers(0, 2, (n, 2))
    offset = rng.integers(1, 5, (n, 2))
    y0, x0 = (np.where(corner == 0, offset, s - MARK.shape[0] - offset)).T
    images, masks, marks = scenes.images.copy(), scenes.masks.copy(), scenes.marks.copy()
    for i in np.flatnonzero(which):
        sl = (slice(y0[i], y0[i] + MARK.shape[0]), slice(x0[i], x0[i] + MARK.shape[1]))
        images[i][sl] = MARK[..., None]
        marks[i][sl] = True
        masks[i][:, sl[0], sl[1]] = False
    return Scenes(images, scenes.labels.copy(), masks, masks_to_boxes(masks), marks)

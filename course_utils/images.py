"""Photos: the bundled samples in ``data/images`` (origin and licence in ``data/images/SOURCES.md``)
or any image file Pillow reads (JPEG, PNG, GIF, BMP, TIFF, WebP, ...), loaded as a displayable ``image``
``(H, W, 3) float32`` in [0, 1]."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from course_utils import IMAGES_DIR

log = logging.getLogger(__name__)
_SUFFIXES = (".jpg", ".jpeg", ".png")
_SAID: set = set()  # (file, mode) conversions already reported: each is said once per session
#: Full scale of Pillow's high-bit-depth grayscale modes: 16-bit PNG/TIFF (``I;16*``), 32-bit integer
#: (``I``: Pillow's mode for 16-bit data from some files, so values must lie in 0..65535) and float (``F``).
FULL_SCALE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 65535.0, "F": 1.0}


def _say_once(path: Path, mode: str, message: str) -> None:
    key = (str(path.resolve()), mode)
    if key not in _SAID:
        _SAID.add(key)
        log.warning(message)


def sample_names() -> list[str]:
    """Names of the bundled sample photos (``load_sample`` takes them)."""
    return sorted(p.stem for p in IMAGES_DIR.iterdir() if p.suffix.lower() in _SUFFIXES)


def sample_path(name: str) -> Path:
    """Path of the bundled sample photo ``name`` (e.g. ``"chelsea"``)."""
    found = [p for p in IMAGES_DIR.iterdir() if p.stem == name and p.suffix.lower() in _SUFFIXES]
    if not found:
        raise ValueError(f"sample {name!r}: expected one of {sample_names()}")
    return found[0]


def _to_rgb(img, path: Path):
    """PIL image in any mode -> RGB; transparency is composited over white."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        _say_once(path, img.mode, f"{path.name}: {img.mode} image composited over white to RGB")
        return Image.alpha_composite(white, rgba).convert("RGB")
    _say_once(path, img.mode, f"{path.name}: {img.mode} image converted to RGB")
    return img.convert("RGB")


def _to_array(img, path: Path) -> np.ndarray:
    """PIL image in any mode -> ``(H, W, 3) float32`` in [0, 1]. High-bit-depth grayscale is divided by
    its :data:`FULL_SCALE` (``convert("RGB")`` clipped it at 255: a 16-bit PNG came out 98% white)."""
    if img.mode not in FULL_SCALE:
        return np.asarray(_to_rgb(img, path), np.float32) / 255.0
    full = FULL_SCALE[img.mode]
    a = np.asarray(img, np.float64)
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > full:
        raise ValueError(f"image {str(path)!r} of mode {img.mode} has values in [{a.min():g}, {a.max():g}]: "
                         f"expected 0..{full:g}; scale it to that range (or to 8 bits) and save it again")
    _say_once(path, img.mode, f"{path.name}: {img.mode} grayscale image divided by {full:g} and converted to RGB")
    return np.repeat((a / full).astype(np.float32)[..., None], 3, axis=-1)


def load_image(path: str | Path, size: int | None = None, fit: str = "crop") -> np.ndarray:
    """Load an image file as ``(H, W, 3) float32`` in [0, 1], upright (EXIF orientation applied).

    Every mode Pillow reads: 1-bit, grayscale, palette and CMYK become RGB; transparency (LA, PA, RGBA,
    palette) is composited over white; 16-bit grayscale is divided by 65535, 32-bit integer images must
    hold 16-bit values and float (``F``) images values in [0, 1] (else ValueError); 16-bit RGB files come
    as Pillow reads them, 8 bits per channel. Animated GIF/WebP and multi-page TIFF: the first frame.
    With ``size``, the result is ``(size, size, 3)``: see :func:`resize` for ``fit``. Raises
    FileNotFoundError for a missing file and ValueError for a file that is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} {'is a folder' if path.is_dir() else 'does not exist'} "
                                f"(relative paths start at {Path.cwd()}): expected a JPEG or PNG file, or a "
                                f"sample photo by name with load_sample(name), name one of {sample_names()}")
    try:
        with Image.open(path) as img:
            image = _to_array(ImageOps.exif_transpose(img), path)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"image {str(path)!r} cannot be read as an image ({e}); expected an image file such as "
                         "a JPEG or PNG") from e
    return image if size is None else resize(image, size, fit)


def load_sample(name: str, size: int | None = None, fit: str = "crop") -> np.ndarray:
    """A bundled sample photo by name, as :func:`load_image` returns it."""
    return load_image(sample_path(name), size, fit)


def resize(image: np.ndarray, size: int, fit: str = "crop") -> np.ndarray:
    """Resize an ``(H, W, 3)`` image in [0, 1] to ``(size, size, 3)``.

    ``fit="crop"`` keeps the aspect ratio and crops the centre square first; ``"stretch"`` does not.
    A uint8 image (0-255) is scaled to [0, 1] first.
    """
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image of shape {image.shape}: expected (H, W, 3)")
    image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    if not np.isfinite(image).all() or image.min() < -1e-3 or image.max() > 1 + 1e-3:
        raise ValueError(f"image with values in [{np.nanmin(image):.3g}, {np.nanmax(image):.3g}]"
                         f"{' and NaN' if np.isnan(image).any() else ''}: expected floats in [0, 1] or uint8")
    if fit not in ("crop", "stretch"):
        raise ValueError(f"fit={fit!r}: expected 'crop' or 'stretch'")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size={size!r}: expected a positive int")
    if fit == "crop":
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        image = image[top:top + side, left:left + side]
    img = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    return np.asarray(img.resize((size, size), Image.BICUBIC), np.float32) / 255.0


def load_pool(size: int = 224, uint8: bool = False) -> tuple[list[str], np.ndarray, list[str]]:
    """The labelled photo pool ``data/images/pool`` (origins, licences and how the labels were decided in
    ``data/images/SOURCES.md``): ``(files, images (N, size, size, 3) centre-cropped, classes)`` where
    ``classes[i]`` is the photo's true ImageNet class name, or ``""`` where no ImageNet class fits it.
    ``uint8=True`` gives the images as 0-255 bytes, a quarter of the memory (258 photos of 224 px: 39 MB, not 155)."""
    import csv

    table = IMAGES_DIR / "pool" / "labels.csv"
    if not table.exists():
        raise FileNotFoundError(f"{table} is missing: regenerate the pool with python data/images/make_pool.py")
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    load = lambda r: load_image(IMAGES_DIR / "pool" / r["file"], size)
    images = np.stack([(load(r) * 255).round().astype(np.uint8) if uint8 else load(r) for r in rows])
    return [r["file"] for r in rows], images, [r["imagenet"].strip() for r in rows]


def mosaic(images: np.ndarray, grid: int, size: int) -> np.ndarray:
    """A ``grid x grid`` mosaic ``(size, size, 3)`` of ``grid**2`` images ``(grid**2, H, W, 3)`` in [0, 1], row by
    row, each centre-cropped and resized to a ``ceil(size / grid)`` px square (the last row and column lose what
    passes ``size``): the input of the grid pointing game (Rao et al. 2022, arXiv:2202.11299; notebook 09).
    :func:`course_utils.metrics.tile_masks` gives the tiles' masks."""
    if not isinstance(grid, (int, np.integer)) or grid < 1 or not isinstance(size, (int, np.integer)) or size < grid:
        raise ValueError(f"grid={grid!r}, size={size!r}: expected whole numbers with 1 <= grid <= size")
    if np.ndim(images) != 4 or len(images) != grid * grid:
        raise ValueError(f"images of shape {np.shape(images)}: expected {grid * grid} images (N, H, W, 3)")
    side = -(-size // grid)
    cells = np.stack([resize(im, side) for im in images]).reshape(grid, grid, side, side, 3)
    return cells.transpose(0, 2, 1, 3, 4).reshape(grid * side, grid * side, 3)[:size, :size]

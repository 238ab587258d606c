"""Rebuild the labelled photo pool, data/images/pool/ (origins, licences and labels in pool/labels.csv).

    python data/images/make_pool.py [--debs DIR] [FILE ...]

Every row of ``pool/labels.csv`` names a photo (``file``), what it shows, its ImageNet-1k class (empty where
no class fits), its licence and its origin: ``PACKAGE VERSION: PATH``, a Debian 12 (bookworm) package and the
path of the image in it (``NAME.rcc:PATH`` for GCompris, whose images sit inside Qt resource files under
/usr/share/gcompris-qt/rcc/). The script downloads each package with ``apt-get download`` (or takes the .deb
files already in ``--debs``), unpacks it with ``dpkg-deb`` and reads the resource files with ``rcc_files``
from make_photos.py, crops the few photos listed in CROPS, centres each cut-out photo (a Tux Paint stamp,
``*_stamp.jpg``: transparent around the subject) on a white square with a margin of PAD of its longer side,
resizes each so that its shorter side is 256 px and writes ``pool/FILE`` (JPEG quality 85). Names select photos; by default all are made. Older package
versions stay on https://snapshot.debian.org/.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps

from make_photos import HERE, PACKAGES, rcc_files, unpack

POOL = HERE / "pool"
LABELS = POOL / "labels.csv"
CLASSES = HERE.parent / "imagenet_classes.txt"
SHORT_SIDE = 256
QUALITY = 85
PAD = 0.08
# file: (left, top, right, bottom) as fractions of the width and height; one subject out of a larger scene
CROPS = {
    "fig.jpg": (0.33, 0.22, 0.78, 0.88),
    "dragonfly.jpg": (0.30, 0.15, 0.90, 0.70),
    "wine_bottle.jpg": (0.30, 0.08, 0.62, 0.36),
    "loudspeaker.jpg": (0.0, 0.03, 0.28, 0.47),
}


def read_labels(path: Path = LABELS) -> list[dict[str, str]]:
    """The rows of labels.csv, checked: unique file names, ImageNet classes spelt as in imagenet_classes.txt."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    classes = {line.strip() for line in CLASSES.read_text().splitlines() if line.strip() and not line.startswith("#")}
    seen = set()
    for row in rows:
        if row["file"] in seen:
            raise ValueError(f"{row['file']}: listed twice")
        seen.add(row["file"])
        if row["imagenet"] and row["imagenet"] not in classes:
            raise ValueError(f"{row['file']}: {row['imagenet']!r} is not an ImageNet class name")
    return rows


def source_bytes(origin: str, debs: Path, root: Path, cache: dict) -> bytes:
    """The bytes of the image that ``origin`` ("PACKAGE VERSION: PATH") names."""
    head, path = origin.split(": ", 1)
    package, version = head.split(" ")
    PACKAGES.setdefault(package, version)
    base = unpack(package, debs, root)
    if ".rcc:" in path:
        rcc, inner = path.split(":", 1)
        key = (package, rcc)
        if key not in cache:
            cache[key] = rcc_files((base / "usr/share/gcompris-qt/rcc" / rcc).read_bytes())
        return cache[key]["gcompris/src/activities/" + inner]
    return (base / path.lstrip("/")).read_bytes()


def to_pool(data: bytes, crop: tuple[float, float, float, float] | None, square: bool = False) -> Image.Image:
    """Crop (fractions) if asked, or centre a cut-out on a white square (``square``), then resize to a shorter
    side of SHORT_SIDE px, keeping the aspect ratio."""
    with Image.open(BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img)
        img = img.convert("RGB")
    if square:
        side = round(max(img.size) * (1 + 2 * PAD))
        canvas = Image.new("RGB", (side, side), "white")
        canvas.paste(img, ((side - img.size[0]) // 2, (side - img.size[1]) // 2))
        img = canvas
    if crop:
        w, h = img.size
        img = img.crop((round(crop[0] * w), round(crop[1] * h), round(crop[2] * w), round(crop[3] * h)))
    scale = SHORT_SIDE / min(img.size)
    size = (max(SHORT_SIDE, round(img.size[0] * scale)), max(SHORT_SIDE, round(img.size[1] * scale)))
    return img.resize(size, Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="photos to make, e.g. goldfish.jpg (default: every row of labels.csv)")
    parser.add_argument("--debs", type=Path, help="folder with the .deb files (default: download them)")
    args = parser.parse_args()
    rows = read_labels()
    if args.files:
        unknown = set(args.files) - {row["file"] for row in rows}
        if unknown:
            parser.error(f"not in labels.csv: {', '.join(sorted(unknown))}")
        rows = [row for row in rows if row["file"] in args.files]
    cache: dict = {}
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        debs = args.debs or Path(tmp)
        for row in rows:
            data = source_bytes(row["origin"], debs, Path(tmp), cache)
            img = to_pool(data, CROPS.get(row["file"]), square=row["file"].endswith("_stamp.jpg"))
            out = POOL / row["file"]
            img.save(out, quality=QUALITY, optimize=True)
            total += out.stat().st_size
            print(f"{row['file']:32s} {img.size[0]}x{img.size[1]}  {out.stat().st_size / 1024:4.0f} KB  {row['imagenet'] or '-'}")
    print(f"{len(rows)} photos, {total / 1024 / 1024:.2f} MB")


if __name__ == "__main__":
    main()

"""Rebuild the sample photos that come from Debian packages (origins and licences in SOURCES.md).

    python data/images/make_photos.py [--debs DIR] [NAME ...]

Downloads the three Debian 12 (bookworm) packages below with ``apt-get download`` (or takes the .deb files
already in ``--debs``), unpacks them with ``dpkg-deb``, crops and resizes each photo (Pillow with WebP
support) and writes ``NAME.jpg`` (JPEG quality 88) next to this file. GCompris keeps its images inside Qt
resource files (.rcc); ``rcc_files`` reads that format. Older package versions stay on
https://snapshot.debian.org/.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
PACKAGES = {"lomiri-wallpapers-16.04": "20.04.0-2", "palapeli-data": "4:22.12.3-1", "gcompris-qt-data": "3.1-2"}
LOMIRI = ("lomiri-wallpapers-16.04", "usr/share/backgrounds/")
PALAPELI = ("palapeli-data", "usr/share/palapeli/collection/")
GCOMPRIS = ("gcompris-qt-data", "usr/share/gcompris-qt/rcc/")
# name: (package, path in the package ("file.rcc:path inside it" for GCompris), crop (left, top, right, bottom)
# as fractions of the width and height, or None)
PHOTOS = {
    "bee": (*PALAPELI, "european-honey-bee.jpg", None),
    "bridge": (*PALAPELI, "cincinnati-bridge.jpg", None),
    "castle": (*GCOMPRIS, "explore_monuments.rcc:explore_monuments/resource/germany/neuschwansteinCastle.webp", None),
    "citrus": (*PALAPELI, "citrus-fruits.jpg", None),
    "drum": (*LOMIRI, "Wine_by_Jakkub_Mede.jpg", (0.0, 0.47, 0.75, 0.97)),
    "german_shepherd": (*GCOMPRIS, "explore_farm_animals.rcc:explore_farm_animals/resource/animals/dog.webp", None),
    "giraffe": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/giraffe.webp", None),
    "kingfisher": (*GCOMPRIS, "erase.rcc:erase/resource/kingfisher.webp", None),
    "koala": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/koala.webp", None),
    "komodo_dragon": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/dragon.webp", None),
    "macaw": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/scarlet_macaw.webp", None),
    "mountains": (*LOMIRI, "picosdeeuropa_by_Aitzol_Berasategi.jpg", None),
    "paintbrushes": (*LOMIRI, "Picture_1A_by_freespace.jpg", None),
    "panda": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/panda.webp", None),
    "polar_bear": (*GCOMPRIS, "explore_world_animals.rcc:explore_world_animals/resource/animals/polar_bear.webp", None),
    "red_panda": (*GCOMPRIS, "erase.rcc:erase/resource/red_panda.webp", None),
    "spaniels": (*LOMIRI, "friends_by_Aitzol_Berasategi.jpg", (0.15, 0.2, 0.85, 0.66)),
    "wall_clock": (*LOMIRI, "greentock_by_Peter_Nerlich.jpg", None),
}
SHORT_SIDE = {"castle": 360, "citrus": 360, "german_shepherd": 360, "giraffe": 340, "kingfisher": 360,
              "komodo_dragon": 360}  # the rest: 400 px


def rcc_files(data: bytes) -> dict[str, bytes]:
    """Every file in a Qt binary resource (.rcc, format versions 1-3, zlib or no compression): path -> bytes."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    size = 14 if version == 1 else 22  # entry: name, flags, then (count, first child) or (locale, data offset)
    out = {}

    def name(offset):
        length, = struct.unpack(">H", data[names + offset:names + offset + 2])
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index, prefix):
        entry = tree + index * size
        name_offset, flags = struct.unpack(">IH", data[entry:entry + 6])
        path = prefix + (name(name_offset) if index else "")
        if flags & 2:  # directory
            count, first = struct.unpack(">II", data[entry + 6:entry + 14])
            for child in range(first, first + count):
                walk(child, path + "/" if path else "")
            return
        offset, = struct.unpack(">I", data[entry + 10:entry + 14])
        length, = struct.unpack(">I", data[payload + offset:payload + offset + 4])
        blob = data[payload + offset + 4:payload + offset + 4 + length]
        if flags & 4:
            raise ValueError(f"{path}: zstd-compressed resource")
        out[path] = zlib.decompress(blob[4:]) if flags & 1 else blob

    walk(0, "")
    return out


def unpack(package: str, debs: Path, root: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", f"{package}={PACKAGES[package]}"], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    target = root / package
    if not target.exists():
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(target)], check=True)
    return target


def make(name: str, debs: Path, root: Path) -> Path:
    package, folder, path, crop = PHOTOS[name]
    base = unpack(package, debs, root) / folder
    if ".rcc:" in path:
        rcc, inner = path.split(":")
        source = root / name
        source.write_bytes(rcc_files((base / rcc).read_bytes())["gcompris/src/activities/" + inner])
    else:
        source = base / path
    with Image.open(source) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
    if crop:
        w, h = img.size
        img = img.crop((round(crop[0] * w), round(crop[1] * h), round(crop[2] * w), round(crop[3] * h)))
    scale = SHORT_SIDE.get(name, 400) / min(img.size)
    if scale < 1:
        img = img.resize((round(img.size[0] * scale), round(img.size[1] * scale)), Image.LANCZOS)
    out = HERE / f"{name}.jpg"
    img.save(out, quality=88, optimize=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"photos to make (default: all of {', '.join(PHOTOS)})")
    parser.add_argument("--debs", type=Path, help="folder with the .deb files (default: download them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        debs = args.debs or Path(tmp)
        for name in args.names or PHOTOS:
            out = make(name, debs, Path(tmp))
            with Image.open(out) as img:
                print(f"{out.name:20s} {img.size[0]}x{img.size[1]}  {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

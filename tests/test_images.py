import re

import numpy as np
import pytest
from PIL import Image

from course_utils.images import load_image, load_sample, resize, sample_names, sample_path


def test_samples_load_as_rgb_floats():
    names = sample_names()
    assert {"astronaut", "chelsea", "coffee", "rocket"} <= set(names)
    for name in names:
        image = load_sample(name)
        assert image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.float32
        assert 0 <= image.min() < image.max() <= 1
    assert load_sample("chelsea").shape == (300, 451, 3)


LICENCE = re.compile(r"public domain|\bCC0\b|\bCC BY(-SA)? \d\.\d\b|\bMIT\b|\bBSD\b", re.IGNORECASE)


def source_rows() -> dict[str, str]:
    """The photo table of data/images/SOURCES.md: file name -> licence cell."""
    lines = (sample_path("chelsea").parent / "SOURCES.md").read_text().splitlines()
    start = lines.index("| file | what | origin | licence |") + 2  # past the header and its |---| line
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"SOURCES.md row with {len(cells)} cells, expected 4: {line}"
        assert cells[0] not in rows, f"SOURCES.md names {cells[0]} twice"
        rows[cells[0]] = cells[3]
    return rows


def test_every_photo_has_a_row_in_sources_and_every_row_a_licence():
    photos = sorted(sample_path(name).name for name in sample_names())
    rows = source_rows()
    assert sorted(rows) == photos  # no photo without a row, no row without a photo
    unlicensed = [f for f, licence in rows.items() if not LICENCE.search(licence)]
    assert not unlicensed, f"rows that name no licence: {unlicensed}"


def test_photos_are_small_lower_case_jpegs():
    for name in sample_names():
        path = sample_path(name)
        assert re.fullmatch(r"[a-z0-9_]+\.jpg", path.name), path.name
        assert path.stat().st_size < 80 * 1024, f"{path.name}: {path.stat().st_size} bytes"
        with Image.open(path) as img:
            assert img.format == "JPEG" and 300 <= min(img.size) <= 512, (path.name, img.size)


def test_grayscale_and_rgba_become_rgb(tmp_path):
    Image.fromarray(np.full((10, 12), 128, np.uint8), "L").save(tmp_path / "gray.png")
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :6, 3] = 255  # left half opaque red, right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    gray = load_image(tmp_path / "gray.png")
    assert gray.shape == (10, 12, 3) and np.allclose(gray, 128 / 255)
    rgb = load_image(tmp_path / "rgba.png")
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(rgb[0, -1], [1, 1, 1])  # transparent -> white


def test_exif_rotation_is_applied(tmp_path):
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :20] = 255  # white left half of a landscape image
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    img.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "rotated.jpg")
    assert image.shape == (40, 20, 3)  # displayed upright: portrait
    assert image[:15].mean() > 0.9 and image[25:].mean() < 0.1  # white half on top after rotation


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="bad.jpg"):
        load_image(tmp_path / "bad.jpg")
    with pytest.raises(ValueError, match="'dog'"):
        load_sample("dog")


def test_resize_crop_and_stretch():
    image = np.zeros((20, 40, 3), np.float32)
    image[:, 10:30] = 1.0  # the centre square is white, the sides black
    assert resize(image, 8).shape == (8, 8, 3) and resize(image, 8).min() > 0.95
    assert resize(image, 8, fit="stretch")[:, 0].max() < 0.05
    assert load_sample("coffee", 64).shape == (64, 64, 3)


@pytest.mark.parametrize("args, bad", [((np.zeros((4, 4)), 8), "(4, 4)"), ((np.zeros((4, 4, 3)), 0), "size=0"),
                                       ((np.zeros((4, 4, 3)), 8, "pad"), "'pad'")])
def test_resize_bad_arguments(args, bad):
    with pytest.raises(ValueError) as e:
        resize(*args)
    assert bad in str(e.value)


def test_the_labelled_pool_loads_with_valid_classes_and_licences():
    import csv

    from course_utils import IMAGES_DIR
    from course_utils.images import load_pool

    files, images, classes = load_pool(32)
    assert len(files) >= 150 and images.shape == (len(files), 32, 32, 3) and len(classes) == len(files)
    names = [line.strip() for line in (IMAGES_DIR.parent / "imagenet_classes.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert all(c == "" or c in names for c in classes)  # exact ImageNet names, or none
    assert sum(map(bool, classes)) >= 150  # the misclassification study in 09 needs >= 150 labelled photos
    _, bytes_, _ = load_pool(32, uint8=True)  # the same photos in a quarter of the memory
    assert bytes_.dtype == np.uint8 and np.abs(bytes_ / 255 - images).max() <= 0.5 / 255 + 1e-6
    rows = list(csv.DictReader(open(IMAGES_DIR / "pool" / "labels.csv", encoding="utf-8")))
    assert all(r["licence"].strip() and r["origin"].strip() for r in rows)
    assert sorted(p.name for p in (IMAGES_DIR / "pool").glob("*.jpg")) == sorted(files)  # no photo without a row

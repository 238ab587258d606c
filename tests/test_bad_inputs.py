"""The bad-input sweep (issues #6 and #11): one table over every public ``course_utils`` function.

Each row feeds one bad input to one function. The function must raise ValueError or FileNotFoundError
whose message names the bad value and what is allowed (the strings listed in the row), or return a
documented, sensible result (``Handled`` rows, each with a check that can fail). No row may crash the
process, return NaN, or return quietly what cannot be right. The rows come in five categories:

- ``BY_MODULE`` (#6), module by module: unknown layer names, class/channel/neuron out of range, wrong
  shapes (HxW, HxWx1, HxWx4 RGBA, the wrong size for a fixed-size model), uint8 instead of float, NaN or
  empty input, missing or corrupt files, layers without spatial output for CAM methods.
- ``DEGENERATE``: degenerate data for every embedding and metric function: identical, all-zero, tiny- or
  huge-scale vectors, one or two rows, fewer rows than perplexity/n_neighbors, constant maps, empty and
  all-true masks, identical images. t-SNE and UMAP rows run in a child process (:func:`in_child`), so a
  segmentation fault in native code fails one row instead of the whole run.
- ``NUMBERS``: every numeric argument of every optimizer (render, Renderer, Pixels, Fourier, transforms,
  objectives, dream, atlas): NaN, inf, zero, negative, fractional and boolean values. A whole float such
  as 3.0 is taken as 3; 3.5, NaN, inf and True are errors.
- ``FORMATS``: every image mode and format Pillow reads, loaded by ``images.load_image`` as (H, W, 3)
  float32 in [0, 1] with the right value at a known pixel, or refused clearly (files written in tmp).
- ``MODEL_KINDS``: every model kind Keras builds (functional, Sequential with and without Input, nested
  backbone, subclassed, softmax and sigmoid outputs) for saliency, Grad-CAM, activations and render.

``test_every_public_function_has_a_row`` keeps the table complete: a new public function needs a row
here, or an entry in ``NO_BAD_INPUT`` saying why it has none.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import json
import logging
import os
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import course_utils


@dataclass(frozen=True)
class Raises:
    """``call(env)`` raises ``error`` with every string of ``says`` in its message."""

    fn: str                  # "module.function" (or "module.Class.method") the row exercises
    case: str
    call: Callable
    error: type = ValueError
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Handled:
    """``call(env)`` returns, and ``check(result, env)`` holds."""

    fn: str
    case: str
    call: Callable
    check: Callable


def raises(fn, case, call, *says, error=ValueError):
    return Raises(fn, case, call, error, says)


# ---- the environment every row gets -------------------------------------------------------------------------

class Env:
    """Models and inputs for the rows, built once (``env.tiny`` is the 8x8 conftest model with layers
    ``conv_a``, ``conv_b`` (6 channels), ``gap``, ``logits`` (3 classes))."""

    def __init__(self, tiny, tmp):
        from PIL import Image

        from course_utils.models import load_model

        rng = np.random.default_rng(0)
        self.tiny = tiny
        self.x = rng.uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)  # tiny's preprocessed inputs
        self.vgg = load_model("fashion_vgg", verbose=False)   # bundled tier, 64x64, dense head
        self.gap = load_model("fashion_gap", verbose=False)   # bundled tier, CAM head
        self.images = self.vgg.samples(3)                     # (3, 64, 64, 3) in [0, 1]
        self.image = self.images[0]
        self.tmp = tmp
        photo = (rng.uniform(0, 1, (40, 50, 3)) * 255).astype(np.uint8)
        Image.fromarray(photo).save(tmp / "photo.png")
        Image.fromarray(photo[..., 0]).save(tmp / "gray.png")
        Image.fromarray(np.dstack([photo, np.full((40, 50), 128, np.uint8)])).save(tmp / "rgba.png")
        (tmp / "corrupt.png").write_bytes(b"this is not a PNG file")
        (tmp / "truncated.png").write_bytes((tmp / "photo.png").read_bytes()[:200])
        _write_formats(tmp)

    def child(self, expr: str):
        """``eval(expr)`` in a fresh Python process (see :data:`CHILD`), its exception raised again here."""
        done = self.__dict__.setdefault("_child", {})
        while expr not in done:  # one process runs every child row not yet run; a crash ends only its own row
            todo = [x for x in _CHILD_ROWS if x not in done]
            run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(todo)], capture_output=True, text=True,
                                 timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
            lines = run.stdout.splitlines()
            done.update((x, json.loads(line)) for x, line in zip(todo, lines))
            if len(lines) < len(todo):
                done[todo[len(lines)]] = {"crash": run.returncode, "stderr": run.stderr[-1500:]}
        out = done[expr]
        if "crash" in out:
            pytest.fail(f"{expr} killed the Python process (exit code {out['crash']}): {out['stderr']}")
        if "error" in out:
            raise getattr(builtins, out["error"], RuntimeError)(out["message"])
        return np.asarray(out["value"])

    @property
    def imagenet(self):
        """ImageNet tier (random weights, 224x224): built on first use."""
        if not hasattr(self, "_imagenet"):
            from course_utils.models import load_model

            self._imagenet = load_model("mobilenet_v2", weights=None, verbose=False)
        return self._imagenet


def _png16(path, a: np.ndarray, color_type: int) -> None:
    """Write ``a`` (uint16, (H, W) or (H, W, channels)) as a 16-bit PNG by hand (Pillow writes no 16-bit RGB)."""
    import struct
    import zlib

    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _write_formats(tmp) -> None:
    """One small file per image mode and format Pillow reads, with known pixels (see the FORMATS rows)."""
    from PIL import Image

    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0, 0], rgb[0, 1] = (10, 20, 30), (255, 0, 0)
    for ext, kw in (("png", {}), ("bmp", {}), ("tif", {}), ("webp", {"lossless": True})):
        Image.fromarray(rgb).save(tmp / f"rgb.{ext}", **kw)
    Image.fromarray(rgb).save(tmp / "rgb.jpg", quality=95)
    bits = np.zeros((6, 8), bool)
    bits[0, 0] = True
    Image.fromarray(bits).save(tmp / "bits.png")
    gray = np.full((6, 8), 51, np.uint8)
    Image.fromarray(gray).save(tmp / "gray51.png")
    Image.fromarray(np.dstack([np.zeros((6, 8), np.uint8), np.full((6, 8), 128, np.uint8)])).save(tmp / "la.png")
    palette = Image.new("P", (8, 6), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.save(tmp / "palette.png")
    palette.save(tmp / "palette_clear.png", transparency=1)
    Image.new("PA", (8, 6), (1, 0)).save(tmp / "pa.tif")  # PA: palette index 1, fully transparent
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[0, 0], rgba[0, 1] = (255, 0, 0, 0), (255, 0, 0, 255)
    Image.fromarray(rgba).save(tmp / "rgba.png")
    ramp = np.linspace(0, 65535, 48).astype(np.uint16).reshape(6, 8)  # 98% of it is above 255
    for name in ("gray16.png", "gray16.tif"):
        Image.fromarray(ramp).save(tmp / name)
    Image.frombytes("I;16B", (8, 6), ramp.astype(">u2").tobytes()).save(tmp / "gray16b.tif")
    Image.fromarray(ramp.astype(np.int32)).save(tmp / "int32.tif")
    Image.fromarray(np.full((6, 8), 100_000, np.int32)).save(tmp / "int32_big.tif")
    Image.fromarray(np.full((6, 8), 0.25, np.float32)).save(tmp / "float.tif")
    Image.fromarray(np.full((6, 8), 2.0, np.float32)).save(tmp / "float_big.tif")
    Image.fromarray(np.full((6, 8), np.nan, np.float32)).save(tmp / "float_nan.tif")
    _png16(tmp / "rgb16.png", np.broadcast_to(np.array([0x8000, 0xFFFF, 0], np.uint16), (6, 8, 3)), color_type=2)
    _png16(tmp / "la16.png", np.broadcast_to(np.array([0, 0x8000], np.uint16), (6, 8, 2)), color_type=4)
    for ext in ("jpg", "tif"):
        Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp / f"cmyk.{ext}")
    Image.new("YCbCr", (8, 6), (128, 128, 128)).save(tmp / "ycbcr.tif")
    Image.new("LAB", (8, 6), (128, 128, 128)).save(tmp / "lab.tif")
    frames = [Image.new("RGB", (8, 6), (255, 0, 0)), Image.new("RGB", (8, 6), (0, 0, 255))]
    frames[0].save(tmp / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    frames[0].save(tmp / "pages.tif", save_all=True, append_images=frames[1:])


@pytest.fixture(scope="module")
def env(tiny_model, tmp_path_factory):
    return Env(tiny_model, tmp_path_factory.mktemp("bad_inputs"))


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What a child process runs: ``eval`` of each expression in ``argv[1]`` (JSON), one JSON line out each.
#: ``V`` is 30 vectors of 6 channels whose spread is 1.5.
CHILD = """
import json, sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
from course_utils.embedding import project
V = np.random.default_rng(0).normal(size=(30, 6)).astype(np.float32)
V = (V / np.ptp(V, axis=0).max() * 1.5).astype(np.float32)
for expr in json.loads(sys.argv[1]):
    try:
        out = {"value": np.asarray(eval(expr)).tolist()}
    except Exception as e:
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out), flush=True)
"""
_CHILD_ROWS: list[str] = []


def in_child(expr: str) -> Callable:
    """A row's ``call`` that runs ``expr`` in a child process: native code (t-SNE, UMAP) that crashes on
    degenerate data fails that row instead of killing pytest."""
    _CHILD_ROWS.append(expr)
    return lambda e: e.child(expr)


def _m(name):
    return importlib.import_module(f"course_utils.{name}")


def f(path):
    """The function at ``"module.name"`` (``"module.Class.method"``) of course_utils."""
    module, *names = path.split(".")
    obj = _m(module)
    for n in names:
        obj = getattr(obj, n)
    return obj


GRAY_HINT = "course_utils.images.load_image"  # what check_images suggests for grayscale/RGBA arrays


def _text_file(e):
    path = e.tmp / "not-a-model.txt"
    path.write_text("these are not weights")
    return path


def _nan(shape):
    a = np.zeros(shape, np.float32)
    a.flat[0] = np.nan
    return a


def _grid():
    """A 2 x 2 grid of 20 random points."""
    return f("embedding.grid_cells")(np.random.default_rng(0).uniform(size=(20, 2)), grid=2, min_count=1)


def _warned(call):
    """``(call(), [warning messages])``: the library's own warnings, not those that Python's standard library or a
    dependency raises from its own code (on Python 3.13 TensorFlow's autograph trips a DeprecationWarning in ``ast``)."""
    import sysconfig
    import warnings

    elsewhere = (sysconfig.get_paths()["stdlib"], "site-packages", "dist-packages")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in said
                    if "course_utils" in w.filename or not any(part in w.filename for part in elsewhere)]


def _peak():
    """One 8x8 map with a single maximum at (3, 3)."""
    m = np.zeros((1, 8, 8))
    m[0, 3, 3] = 1
    return m


def _halves(images):
    """A ``predict`` whose two "classes" are the brightness of the top and bottom halves of each image."""
    return np.stack([images[:, :4].mean(axis=(1, 2, 3)), images[:, 4:].mean(axis=(1, 2, 3))], -1)


def _curves(heatmaps, target=0, **kw):
    """Perturbation curves of one white 8x8 image with ``heatmaps``, black substrate, 4 steps."""
    kw = {"steps": 4, "substrate": "zero", **kw}
    return f("metrics.perturbation_curves")(_halves, np.ones((1, 8, 8, 3)), heatmaps, target, **kw)


def _tiny(e, objective=None, **kw):
    """``render`` on the tiny 8x8 model (channel 0 of conv_b unless ``objective``), 1 step."""
    kw = {"steps": 1, "progress": False, **kw}
    return f("optimization.render")(e.tiny, objective or f("optimization.channel")("conv_b", 0), **kw)


def _renderer(e, objective=None):
    return f("optimization.Renderer")(e.tiny, objective or f("optimization.channel")("conv_b", 0))


def _variable(value):
    import tensorflow as tf

    return tf.Variable(value, dtype=tf.float32)


def _dream(e, **kw):
    return f("dream.dream")(e.vgg, e.image, **{"steps": 1, "octaves": 1, "progress": False, **kw})


def _directions(e, **kw):
    return f("embedding.render_directions")(e.vgg, "block1_conv2", np.ones((2, 12)), **{"steps": 1, "progress": False,
                                                                                         **kw})


def _atlas(e, **kw):
    xy = np.random.default_rng(0).uniform(size=(20, 2))
    kw = {"grid": 2, "min_count": 1, "steps": 1, "progress": False, **kw}
    return f("embedding.atlas")(e.vgg, "block1_conv2", np.random.default_rng(1).uniform(size=(20, 12)), xy, **kw)


def _render(e, objective, **kw):
    return f("optimization.render")(e.vgg, objective, steps=1, progress=False, **kw)


#: Rows by module (#6): names, shapes, ranges, files.
BY_MODULE = [
    # ---- activations ----------------------------------------------------------------------------------------
    raises("layers.find_layer", "unknown layer", lambda e: f("layers.find_layer")(e.tiny, "conv_c"),
           "'conv_c'", "conv_b"),
    raises("layers.find_layer", "empty name", lambda e: f("layers.find_layer")(e.tiny, ""), "''", "conv_b"),
    raises("layers.find_layer", "path into a non-model", lambda e: f("layers.find_layer")(e.tiny, "conv_a/x"),
           "'conv_a/x'", "conv_b"),
    raises("activations.feature_model", "unknown layer in a list",
           lambda e: f("activations.feature_model")(e.tiny, ["conv_a", "conv9"]), "'conv9'", "conv_b"),
    raises("activations.compiled_features", "unknown layer", lambda e: f("activations.compiled_features")(e.tiny, "c"),
           "'c'", "conv_a"),
    raises("activations.get_activations", "compiled, wrong size",
           lambda e: f("activations.get_activations")(e.vgg.model, e.x, "block1_conv1", compiled=True),
           "(2, 8, 8, 3)", "(N, 64, 64, 3)"),
    raises("activations.get_activations", "unknown layer", lambda e: f("activations.get_activations")(e.tiny, e.x, "c"),
           "'c'", "conv_a"),
    raises("activations.get_activations", "HxWx3 without batch",
           lambda e: f("activations.get_activations")(e.tiny, e.x[0], "conv_a"), "(8, 8, 3)", "(N, 8, 8, 3)"),
    raises("activations.get_activations", "wrong size",
           lambda e: f("activations.get_activations")(e.vgg.model, e.x, "block1_conv1"), "(2, 8, 8, 3)", "(N, 64, 64, 3)"),
    raises("activations.get_activations", "NaN", lambda e: f("activations.get_activations")(e.tiny, _nan((1, 8, 8, 3)),
                                                                                            "conv_a"), "NaN", "finite"),
    raises("activations.get_activations", "empty batch",
           lambda e: f("activations.get_activations")(e.tiny, e.x[:0], "conv_a"), "(0, 8, 8, 3)", "(N, 8, 8, 3)",
           "N >= 1"),
    raises("activations.get_activations", "uint8 images instead of inputs",
           lambda e: f("activations.get_activations")(e.vgg.model, (e.images * 255).astype(np.uint8), "block1_conv1"),
           "uint8", "preprocess"),
    raises("activations.channel_stats", "wrong size", lambda e: f("activations.channel_stats")(
        e.tiny, np.zeros((2, 16, 16, 3), np.float32), ["conv_a"]), "(2, 16, 16, 3)", "(N, 8, 8, 3)"),
    raises("activations.channel_stats", "unknown layer",
           lambda e: f("activations.channel_stats")(e.tiny, e.x, ["conv_a", "gapp"]), "'gapp'", "conv_b"),
    Handled("activations.channel_stats", "one layer name instead of a list",
            lambda e: f("activations.channel_stats")(e.tiny, e.x, "conv_b"),
            lambda r, e: list(r) == ["conv_b"] and r["conv_b"]["max"].shape == (6,)),
    raises("activations.top_patches", "channel out of range",
           lambda e: f("activations.top_patches")(e.tiny, e.x, e.x, "conv_b", 6), "channel=6", "[0, 5]"),
    raises("activations.top_patches", "unknown layer",
           lambda e: f("activations.top_patches")(e.tiny, e.x, e.x, "conv_z", 0), "'conv_z'", "conv_b"),
    # ---- attribution ----------------------------------------------------------------------------------------
    raises("attribution.input_gradients", "class out of range",
           lambda e: f("attribution.input_gradients")(e.tiny, e.x, 3), "target=3", "[0, 2]"),
    raises("attribution.input_gradients", "negative class",
           lambda e: f("attribution.input_gradients")(e.tiny, e.x, -1), "target=-1", "[0, 2]"),
    raises("attribution.input_gradients", "HxWx3 without batch",
           lambda e: f("attribution.input_gradients")(e.tiny, e.x[0], 0), "(8, 8, 3)", "(N, 8, 8, 3)"),
    raises("attribution.vanilla_saliency", "NaN", lambda e: f("attribution.vanilla_saliency")(e.tiny, _nan((1, 8, 8, 3)),
                                                                                              0), "NaN", "finite"),
    raises("attribution.vanilla_saliency", "uint8 images instead of inputs",
           lambda e: f("attribution.vanilla_saliency")(e.vgg.model, (e.images * 255).astype(np.uint8), 0),
           "uint8", "preprocess"),
    raises("attribution.vanilla_saliency", "wrong size for the ImageNet tier",
           lambda e: f("attribution.vanilla_saliency")(e.imagenet.model, e.vgg.preprocess(e.images), 0),
           "(3, 64, 64, 3)", "(N, 224, 224, 3)"),
    raises("attribution.smoothgrad", "no samples", lambda e: f("attribution.smoothgrad")(e.tiny, e.x, 0, samples=0),
           "samples=0", ">= 1"),
    raises("attribution.integrated_gradients", "no steps",
           lambda e: f("attribution.integrated_gradients")(e.tiny, e.x, 0, steps=0), "steps=0", ">= 1"),
    raises("attribution.integrated_gradients", "baseline of the wrong shape",
           lambda e: f("attribution.integrated_gradients")(e.tiny, e.x, 0, baseline=np.zeros((5, 5, 3))),
           "(5, 5, 3)", "(2, 8, 8, 3)"),
    raises("attribution.completeness_gap", "attributions of the wrong shape",
           lambda e: f("attribution.completeness_gap")(e.tiny, e.x, 0, np.zeros((2, 8, 8))), "(2, 8, 8)",
           "(2, 8, 8, 3)"),
    raises("attribution.completeness_gap", "a zero batch", lambda e: f("attribution.completeness_gap")(
        e.tiny, e.x, 0, np.zeros((2, 8, 8, 3)), batch_size=0), "batch_size=0", ">= 1"),
    raises("base.normalize_maps", "one map without batch", lambda e: f("base.normalize_maps")(
        np.zeros((8, 8))), "(8, 8)", "(N, H, W)"),
    raises("attribution.to_map", "maps instead of gradients", lambda e: f("attribution.to_map")(np.zeros((2, 8, 8))),
           "(2, 8, 8)", "(N, H, W, channels)"),
    raises("attribution.to_map", "unknown reduction", lambda e: f("attribution.to_map")(np.zeros((1, 8, 8, 3)), "mean"),
           "'mean'", "'max_abs'"),
    raises("attribution.guided_backprop", "class out of range",
           lambda e: f("attribution.guided_backprop")(e.tiny, e.x, 5), "target=5", "[0, 2]"),
    raises("attribution.saliency_stages", "unknown method",
           lambda e: list(f("attribution.saliency_stages")(e.tiny, e.x, 0, "gradcam")), "'gradcam'", "vanilla"),
    raises("attribution.saliency_stages", "first stage not cheaper than the last",
           lambda e: list(f("attribution.saliency_stages")(e.tiny, e.x, 0, "smoothgrad", first=20)),
           "first=20", "< 20"),
    raises("attribution.saliency_stages", "a first path that is not part of the full one",
           lambda e: list(f("attribution.saliency_stages")(e.tiny, e.x, 0, "integrated_gradients", first=5)),
           "first=5", "divisor of steps=32"),
    raises("attribution.saliency_stages", "class out of range",
           lambda e: list(f("attribution.saliency_stages")(e.tiny, e.x, 7, "smoothgrad")), "target=7", "[0, 2]"),
    raises("attribution.saliency", "unknown method", lambda e: f("attribution.saliency")(e.tiny, e.x, 0, "gradcam"),
           "'gradcam'", "vanilla"),
    raises("runner.default_jobs", "no memory per notebook", lambda e: f("runner.default_jobs")(0),
           "per_notebook_gb=0", "> 0"),
    raises("metrics.mean_interval", "one value", lambda e: f("metrics.mean_interval")([0.5]), "(1,)", "N >= 2"),
    raises("metrics.mean_interval", "a NaN", lambda e: f("metrics.mean_interval")([0.5, np.nan]), "NaN"),
    raises("metrics.mean_interval", "level 1", lambda e: f("metrics.mean_interval")([0.5, 1.0], level=1.0),
           "level=1", "< 1"),
    raises("metrics.mean_interval", "no resamples", lambda e: f("metrics.mean_interval")([0.5, 1.0], resamples=0),
           "resamples=0", ">= 1"),
    raises("embedding.channel_profiles", "every channel dead",
           lambda e: f("embedding.channel_profiles")(np.zeros((4, 3))), "no channel fires", "dead"),
    raises("embedding.channel_profiles", "one input's maxima without the batch axis",
           lambda e: f("embedding.channel_profiles")(np.ones(3)), "(3,)", "(N, C)"),
    # ---- perturbation -----------------------------------------------------------------------------------------
    raises("perturbation.occlusion", "patch larger than the image",
           lambda e: f("perturbation.occlusion")(e.tiny, e.x, 0, patch=9), "patch=9", "<= 8"),
    raises("perturbation.occlusion", "stride 0", lambda e: f("perturbation.occlusion")(e.tiny, e.x, 0, stride=0),
           "stride=0", ">= 1"),
    raises("perturbation.occlusion", "a callable target",
           lambda e: f("perturbation.occlusion")(e.tiny, e.x, lambda z: z[:, 0]), "class indices", "callable"),
    raises("perturbation.occlusion", "class out of range", lambda e: f("perturbation.occlusion")(e.tiny, e.x, 3),
           "target=3", "[0, 2]"),
    raises("perturbation.occlusion", "wrong size",
           lambda e: f("perturbation.occlusion")(e.vgg.model, e.x, 0), "(2, 8, 8, 3)", "(N, 64, 64, 3)"),
    raises("perturbation.rise", "no masks", lambda e: f("perturbation.rise")(e.tiny, e.x, 0, masks=0), "n=0", ">= 1"),
    raises("perturbation.rise", "keep 0", lambda e: f("perturbation.rise")(e.tiny, e.x, 0, keep=0.0), "keep=0", "> 0"),
    raises("perturbation.rise", "NaN input", lambda e: f("perturbation.rise")(e.tiny, _nan((1, 8, 8, 3)), 0), "NaN"),
    raises("perturbation.rise_masks", "cells larger than the image",
           lambda e: f("perturbation.rise_masks")(4, (8, 8), cells=9), "cells=9", "<= 8"),
    raises("perturbation.rise_masks", "keep above 1", lambda e: f("perturbation.rise_masks")(4, (8, 8), keep=1.5),
           "keep=1.5", "<= 1"),
    raises("perturbation.perturbed_logits", "copies of the wrong size",
           lambda e: f("perturbation.perturbed_logits")(e.tiny, 2, lambda a, b: np.zeros((b - a, 9, 9, 3), "float32"),
                                                        2, False, ""), "(2, 9, 9, 3)", "(N, 8, 8, 3)"),
    # ---- cam ------------------------------------------------------------------------------------------------
    raises("cam.check_layer", "layer without spatial output", lambda e: f("cam.check_layer")(e.tiny, "gap"),
           "'gap'", "conv_b"),
    raises("cam.check_layer", "unknown layer", lambda e: f("cam.check_layer")(e.tiny, "conv_q"), "'conv_q'", "conv_b"),
    raises("cam.layer_gradients", "layer without spatial output",
           lambda e: f("cam.layer_gradients")(e.tiny, e.x, 0, "logits"), "'logits'", "conv_b"),
    raises("cam.compile_layers", "layer without spatial output (dense)",
           lambda e: f("cam.compile_layers")(e.vgg.model, ["block4_conv2", "fc1"]), "'fc1'", "block4_conv2"),
    raises("cam.layer_cam", "layer without spatial output (dense)",
           lambda e: f("cam.layer_cam")(e.vgg.model, e.vgg.preprocess(e.images), 0, "fc1"), "'fc1'", "block4_conv2"),
    raises("cam.score_cam", "a callable target",
           lambda e: f("cam.score_cam")(e.tiny, e.x, lambda z: z[:, 0], "conv_b"), "class indices", "callable"),
    raises("cam.score_cam", "more channels than the layer has",
           lambda e: f("cam.score_cam")(e.tiny, e.x, 0, "conv_b", max_channels=7), "max_channels=7", "<= 6"),
    raises("cam.score_cam", "layer without spatial output (dense)",
           lambda e: f("cam.score_cam")(e.vgg.model, e.vgg.preprocess(e.images), 0, "fc1"), "'fc1'", "block4_conv2"),
    raises("cam.grad_cam", "class out of range", lambda e: f("cam.grad_cam")(e.tiny, e.x, 7, "conv_b"),
           "target=7", "[0, 2]"),
    raises("cam.grad_cam", "layer without spatial output (dense)",
           lambda e: f("cam.grad_cam")(e.vgg.model, e.vgg.preprocess(e.images), 0, "fc1"), "'fc1'", "block4_conv2"),
    raises("cam.grad_cam", "wrong size", lambda e: f("cam.grad_cam")(e.vgg.model, e.x, 0, "block4_conv2"),
           "(2, 8, 8, 3)", "(N, 64, 64, 3)"),
    raises("cam.grad_cam", "layer given as an index", lambda e: f("cam.grad_cam")(e.tiny, e.x, 0, 1),
           "layer 1", "a str", "model.layers[1] is named"),
    raises("cam.grad_cam", "layer given as a negative index", lambda e: f("cam.grad_cam")(e.tiny, e.x, 0, -1),
           "layer -1", "model.layers[-1] is named"),
    raises("cam.grad_cam", "the input layer", lambda e: f("cam.grad_cam")(
        e.vgg.model, e.vgg.preprocess(e.images), 0, e.vgg.model.layers[0].name), "model's input", "block4_conv2"),
    raises("activations.get_activations", "layer given as an index",
           lambda e: f("activations.get_activations")(e.tiny, e.x, 2), "layer 2", "model.layers[2] is named"),
    raises("cam.grad_cam_plus_plus", "unknown layer", lambda e: f("cam.grad_cam_plus_plus")(e.tiny, e.x, 0, "conv9"),
           "'conv9'", "conv_b"),
    raises("cam.guided_grad_cam", "layer without spatial output",
           lambda e: f("cam.guided_grad_cam")(e.tiny, e.x, 0, "logits"), "'logits'", "conv_b"),
    raises("cam.cam_weights", "no global-average-pooling head",
           lambda e: f("cam.cam_weights")(e.vgg.model, "block4_conv2"), "'block4_conv2'", "grad_cam"),
    raises("cam.cam", "class out of range", lambda e: f("cam.cam")(e.gap.model, e.gap.preprocess(e.images), 10,
                                                                   "class_conv"), "target=10", "[0, 9]"),
    raises("cam.cam", "callable target", lambda e: f("cam.cam")(e.tiny, e.x, lambda logits: logits[:, 0], "conv_b"),
           "callable", "class ind"),
    raises("cam.heatmap", "unknown method", lambda e: f("cam.heatmap")(e.tiny, e.x, 0, "conv_b", method="cam++"),
           "'cam++'", "grad_cam"),
    # ---- data -----------------------------------------------------------------------------------------------
    raises("data.load_fashion_mnist", "unknown split", lambda e: f("data.load_fashion_mnist")("validation"),
           "'validation'", "'train'"),
    raises("data.load_fashion_mnist", "unknown source", lambda e: f("data.load_fashion_mnist")("train", "web"),
           "'web'", "debian"),
    raises("data.FashionScenes", "unknown split", lambda e: f("data.FashionScenes")("val"), "'val'", "'test'"),
    raises("data.FashionScenes", "five items", lambda e: f("data.FashionScenes")(items=5), "items=5", "1, 2, 3 or 4"),
    raises("data.FashionScenes", "unknown background", lambda e: f("data.FashionScenes")(background="noise"),
           "'noise'", "'texture'"),
    raises("data.FashionScenes", "items larger than the scene", lambda e: f("data.FashionScenes")(scale=(8, 80)),
           "(8, 80)", "size=64"),
    raises("data.FashionScenes", "class out of range", lambda e: f("data.FashionScenes")(mark_class=10),
           "mark_class=10", "[0, 9]"),
    raises("data.FashionScenes", "colour rate above 1", lambda e: f("data.FashionScenes")(colour_rate=1.5),
           "colour_rate=1.5", "[0, 1]"),
    raises("data.FashionScenes", "hue of a full circle", lambda e: f("data.FashionScenes")(colour_hue=1.0),
           "colour_hue=1.0", "[0, 1)"),
    raises("data.FashionScenes.generate", "no scenes", lambda e: f("data.FashionScenes")().generate(0), "n=0",
           "positive"),
    raises("data.masks_to_boxes", "1-D masks", lambda e: f("data.masks_to_boxes")(np.zeros(5, bool)), "(5,)",
           "(..., H, W)"),
    raises("data.stamp_mark", "one flag per scene, wrong count",
           lambda e: f("data.stamp_mark")(f("data.FashionScenes")().generate(2), np.ones(3, bool)), "(3,)", "(2,)"),
    # ---- images ---------------------------------------------------------------------------------------------
    raises("images.load_pool", "size 0", lambda e: f("images.load_pool")(0), "size=0"),
    raises("images.mosaic", "five photos for a 2x2 grid", lambda e: f("images.mosaic")(np.zeros((5, 8, 8, 3)), 2, 32),
           "(5, 8, 8, 3)", "4 images"),
    raises("images.mosaic", "grid 0", lambda e: f("images.mosaic")(np.zeros((4, 8, 8, 3)), 0, 32), "grid=0"),
    Handled("images.mosaic", "a 1x1 grid", lambda e: f("images.mosaic")(np.full((1, 8, 8, 3), 0.5, np.float32), 1, 16),
            lambda r, e: r.shape == (16, 16, 3) and np.allclose(r, 0.5, atol=1 / 255)),
    raises("images.sample_path", "unknown sample", lambda e: f("images.sample_path")("dog"), "'dog'", "chelsea"),
    raises("images.load_sample", "unknown sample", lambda e: f("images.load_sample")("dog"), "'dog'", "chelsea"),
    raises("images.load_image", "missing file", lambda e: f("images.load_image")(e.tmp / "missing.jpg"),
           "missing.jpg", "load_sample", error=FileNotFoundError),
    raises("images.load_image", "a directory", lambda e: f("images.load_image")(e.tmp), "bad_inputs",
           "JPEG or PNG", error=FileNotFoundError),
    raises("images.load_image", "corrupt file", lambda e: f("images.load_image")(e.tmp / "corrupt.png"),
           "corrupt.png", "JPEG or PNG"),
    raises("images.load_image", "truncated file", lambda e: f("images.load_image")(e.tmp / "truncated.png"),
           "truncated.png", "JPEG or PNG"),
    Handled("images.load_image", "grayscale photo", lambda e: f("images.load_image")(e.tmp / "gray.png"),
            lambda r, e: r.shape == (40, 50, 3) and np.array_equal(r[..., 0], r[..., 2])),
    Handled("images.load_image", "RGBA photo", lambda e: f("images.load_image")(e.tmp / "rgba.png", 32),
            lambda r, e: r.shape == (32, 32, 3) and r.dtype == np.float32 and 0 <= r.min() and r.max() <= 1),
    raises("images.load_image", "size 0", lambda e: f("images.load_image")(e.tmp / "photo.png", 0), "size=0",
           "positive"),
    raises("images.resize", "HxW", lambda e: f("images.resize")(np.zeros((64, 64)), 32), "(64, 64)", "(H, W, 3)"),
    raises("images.resize", "HxWx4 RGBA array", lambda e: f("images.resize")(np.zeros((64, 64, 4)), 32),
           "(64, 64, 4)", "(H, W, 3)"),
    raises("images.resize", "floats in 0-255", lambda e: f("images.resize")(np.full((64, 64, 3), 255.0), 32), "255",
           "[0, 1]"),
    raises("images.resize", "unknown fit", lambda e: f("images.resize")(e.image, 32, "zoom"), "'zoom'", "'crop'"),
    Handled("images.resize", "uint8 image", lambda e: f("images.resize")((e.image * 255).round().astype(np.uint8), 32),
            lambda r, e: r.dtype == np.float32 and np.abs(r - f("images.resize")(e.image, 32)).max() < 0.01),
    # ---- metrics --------------------------------------------------------------------------------------------
    raises("metrics.pointing_game", "fewer masks than maps",
           lambda e: f("metrics.pointing_game")(np.zeros((2, 8, 8)), np.zeros((3, 8, 8), bool)), "(2, 8, 8)", "(N, H, W)"),
    raises("metrics.pointing_game", "NaN map", lambda e: f("metrics.pointing_game")(_nan((1, 8, 8)),
                                                                                   np.ones((1, 8, 8), bool)),
           "NaN", "finite"),
    raises("metrics.random_pointing_baseline", "no masks",
           lambda e: f("metrics.random_pointing_baseline")(np.zeros((0, 8, 8), bool)), "(0, 8, 8)", "(N, H, W)"),
    raises("metrics.rate_interval", "rates, not hits", lambda e: f("metrics.rate_interval")([0.5, 1.0]), "(2,)", "0/1"),
    raises("metrics.rate_interval", "no hits", lambda e: f("metrics.rate_interval")([]), "(0,)", "N >= 1"),
    raises("metrics.rate_interval", "level 1", lambda e: f("metrics.rate_interval")([1, 0], level=1.0), "level=1.0"),
    Handled("metrics.rate_interval", "all hits", lambda e: f("metrics.rate_interval")(np.ones(10, bool)),
            lambda r, e: r[0] == 1.0 and r[1] < 0.8 and r[2] == 1.0),
    raises("metrics.model_free_maps", "one image without a batch axis",
           lambda e: f("metrics.model_free_maps")(np.zeros((8, 8, 3))), "(8, 8, 3)", "(N, H, W, 3)"),
    raises("metrics.model_free_maps", "values in 0-255", lambda e: f("metrics.model_free_maps")(np.full((1, 8, 8, 3), 255.0)),
           "255"),
    Handled("metrics.model_free_maps", "constant image", lambda e: f("metrics.model_free_maps")(np.full((1, 8, 8, 3), 0.5)),
            lambda r, e: all(np.isfinite(v).all() for v in r.values()) and r["contrast"].max() == 0),
    raises("metrics.tile_masks", "tile outside the grid", lambda e: f("metrics.tile_masks")(2, 64, [4]), "[4]", "[0, 3]"),
    raises("metrics.tile_masks", "grid larger than the image", lambda e: f("metrics.tile_masks")(8, 4, [0]), "size=4"),
    raises("metrics.impute_linear", "mask of another size",
           lambda e: f("metrics.impute_linear")(np.zeros((1, 8, 8, 3)), np.zeros((1, 4, 4), bool)), "(1, 4, 4)",
           "(N, H, W)"),
    raises("metrics.impute_linear", "negative noise",
           lambda e: f("metrics.impute_linear")(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8), bool), noise=-1.0), "noise"),
    raises("metrics.road_curves", "one fraction",
           lambda e: f("metrics.road_curves")(e.vgg.predict, e.images, np.zeros((len(e.images), 8, 8)), 0, fractions=[0.5]),
           "fractions", "at least two"),
    raises("metrics.road_curves", "a predict that returns logits",
           lambda e: f("metrics.road_curves")(lambda im: 10 * _halves(im) - 5, np.ones((1, 8, 8, 3)),
                                              np.zeros((1, 8, 8)), 0), "values in", "probabilities", "softmax"),
    raises("metrics.perturbation_curves", "a predict that returns logits",
           lambda e: f("metrics.perturbation_curves")(lambda im: 10 * _halves(im) - 5, np.ones((1, 8, 8, 3)),
                                                      np.zeros((1, 8, 8)), 0, steps=4, substrate="zero"),
           "[-5, 5]", "probabilities", "CourseModel.predict"),
    raises("metrics.road_curves", "maps and images differ in number",
           lambda e: f("metrics.road_curves")(e.vgg.predict, e.images, np.zeros((len(e.images) + 1, 8, 8)), 0), "(N, h, w)"),
    raises("metrics.rank_correlation", "maps of different sizes",
           lambda e: f("metrics.rank_correlation")(np.zeros((2, 8, 8)), np.zeros((2, 4, 4))), "(2, 4, 4)", "same shape"),
    raises("metrics.cascading_randomization", "unknown layer",
           lambda e: list(f("metrics.cascading_randomization")(e.tiny, ["conv_x"])), "conv_x", "conv_b"),
    Handled("metrics.cascading_randomization", "a layer inside a nested backbone (outer/inner path)",
            lambda e: [(name, np.asarray(m.predict(e.x, verbose=0))) for name, m in
                       f("metrics.cascading_randomization")(_build("nested backbone"), ["backbone/conv_b"])],
            lambda r, e: r[0][0] == "backbone/conv_b" and r[0][1].shape == (2, 3) and np.isfinite(r[0][1]).all()),
    raises("metrics.cascading_randomization", "layer without weights",
           lambda e: list(f("metrics.cascading_randomization")(e.tiny, ["gap"])), "'gap'", "conv_b"),
    raises("metrics.psnr", "images of different sizes",
           lambda e: f("metrics.psnr")(np.zeros((1, 8, 8, 3)), np.zeros((1, 4, 4, 3))), "(1, 4, 4, 3)", "same shape"),
    raises("metrics.ssim", "images of different sizes",
           lambda e: f("metrics.ssim")(np.zeros((1, 16, 16, 3)), np.zeros((1, 12, 12, 3))), "(1, 12, 12, 3)",
           "same shape"),
    raises("metrics.perturbation_curves", "maps and images differ in number",
           lambda e: f("metrics.perturbation_curves")(e.vgg.predict, e.images, np.zeros((2, 8, 8)), 0),
           "(2, 8, 8)", "(N, h, w)"),
    raises("metrics.perturbation_curves", "class out of range",
           lambda e: f("metrics.perturbation_curves")(e.vgg.predict, e.images, np.zeros((3, 8, 8)), 10, steps=1),
           "10", "[0, 9]"),
    raises("metrics.perturbation_curves", "unknown substrate",
           lambda e: f("metrics.perturbation_curves")(e.vgg.predict, e.images, np.zeros((3, 8, 8)), 0, substrate="noise"),
           "'noise'", "blur"),
    # ---- models ---------------------------------------------------------------------------------------------
    raises("models.load_model", "unknown model", lambda e: f("models.load_model")("alexnet"), "'alexnet'", "vgg16"),
    raises("models.load_model", "unknown weights", lambda e: f("models.load_model")("vgg16", weights="places365"),
           "'places365'", "'imagenet'"),
    raises("models.load_model", "unknown auto kind", lambda e: f("models.load_model")("auto", kind="cam"), "'cam'",
           "'gap'"),
    raises("models.choose_auto", "unknown kind", lambda e: f("models.choose_auto")("resnet"), "'resnet'", "'vgg'"),
    raises("models.weights_path", "unknown model", lambda e: f("models.weights_path")("alexnet"), "'alexnet'",
           "vgg16"),
    raises("models.CourseModel.check_images", "HxW grayscale array", lambda e: e.vgg.check_images(np.zeros((64, 64))),
           "(64, 64)", GRAY_HINT),
    raises("models.CourseModel.preprocess", "HxWx1 array", lambda e: e.vgg.preprocess(np.zeros((64, 64, 1))),
           "(64, 64, 1)", GRAY_HINT),
    raises("models.CourseModel.preprocess", "HxWx4 RGBA array", lambda e: e.vgg.preprocess(np.zeros((64, 64, 4))),
           "(64, 64, 4)", GRAY_HINT),
    raises("models.CourseModel.preprocess", "wrong size (bundled)", lambda e: e.vgg.preprocess(np.zeros((32, 32, 3))),
           "(32, 32, 3)", "resize(image, 64)"),
    raises("models.CourseModel.preprocess", "wrong size (ImageNet tier)", lambda e: e.imagenet.preprocess(e.image),
           "(64, 64, 3)", "(224, 224, 3)"),
    raises("models.CourseModel.preprocess", "NaN", lambda e: e.vgg.preprocess(_nan((64, 64, 3))), "NaN", "finite"),
    raises("models.CourseModel.preprocess", "empty batch", lambda e: e.vgg.preprocess(np.zeros((0, 64, 64, 3))),
           "(0, 64, 64, 3)", "(N, 64, 64, 3)", "N >= 1"),
    raises("models.CourseModel.preprocess", "floats in 0-255", lambda e: e.vgg.preprocess(np.full((64, 64, 3), 255.0)),
           "255", "[0, 1]"),
    Handled("models.CourseModel.preprocess", "uint8 images (0-255)",
            lambda e: e.imagenet.preprocess((e.imagenet.samples(1) * 255).round().astype(np.uint8)),
            lambda r, e: np.abs(r - e.imagenet.preprocess(e.imagenet.samples(1))).max() < 1.0),
    raises("models.CourseModel.logits", "wrong size", lambda e: e.vgg.logits(np.zeros((2, 63, 63, 3))),
           "(2, 63, 63, 3)", "64"),
    raises("models.CourseModel.predict", "wrong size", lambda e: e.vgg.predict(np.zeros((2, 63, 63, 3))),
           "(2, 63, 63, 3)", "(N, 64, 64, 3)"),
    raises("models.CourseModel.decode", "one row without batch", lambda e: e.vgg.decode(np.ones(10) / 10),
           "(10,)", "(N, 10)"),
    raises("models.CourseModel.samples", "no samples (bundled)", lambda e: e.vgg.samples(0), "n=0", "positive"),
    raises("models.CourseModel.samples", "no samples (ImageNet tier)", lambda e: e.imagenet.samples(0), "n=0",
           "positive"),
    # ---- optimization ---------------------------------------------------------------------------------------
    raises("optimization.channel", "unknown layer", lambda e: _render(e, f("optimization.channel")("block9_conv1", 0)),
           "'block9_conv1'", "block4_conv2"),
    raises("optimization.channel", "channel out of range",
           lambda e: _render(e, f("optimization.channel")("block1_conv2", 12)), "block1_conv2 12", "< 12"),
    raises("optimization.channel", "one channel per image, one out of range",
           lambda e: _render(e, f("optimization.channel")("block1_conv2", [0, 99]), n=2), "99", "< 12"),
    raises("optimization.neuron", "channel out of range",
           lambda e: _render(e, f("optimization.neuron")("block2_conv2", 24)), "24", "< 24"),
    raises("optimization.neuron", "position out of range",
           lambda e: _render(e, f("optimization.neuron")("block2_conv2", 0, y=40)), "y=40", "< 32"),
    raises("optimization.class_logit", "class out of range", lambda e: _render(e, f("optimization.class_logit")(10)),
           "class 10", "< 10"),
    raises("optimization.direction", "vector of the wrong length",
           lambda e: _render(e, f("optimization.direction")("block1_conv2", np.ones(5))), "(5,)", "12"),
    raises("optimization.feature_match", "target of the wrong shape",
           lambda e: _render(e, f("optimization.feature_match")("block1_conv2", np.ones((1, 8, 8, 12)))),
           "(1, 8, 8, 12)", "(1, 64, 64, 12)"),
    raises("optimization.diversity", "unknown layer", lambda e: _render(e, f("optimization.diversity")("blockX")),
           "'blockX'", "block4_conv2"),
    raises("optimization.Pixels", "wrong size for a fixed-size model", lambda e: _render(
        e, f("optimization.channel")("block1_conv2", 0), param=f("optimization.Pixels")(1, 32)), "(1, 32, 32, 3)",
        "64x64"),
    raises("optimization.Fourier", "wrong size for the ImageNet tier", lambda e: f("optimization.render")(
        e.imagenet, f("optimization.channel")(e.imagenet.feature_layers[0], 0), param=f("optimization.Fourier")(1, 64),
        steps=1, progress=False), "(1, 64, 64, 3)", "224x224"),
    raises("optimization.jitter", "negative shift", lambda e: f("optimization.jitter")(-2), "d=-2", ">= 0"),
    raises("optimization.random_scale", "no scales", lambda e: f("optimization.random_scale")([]), "[]", "positive"),
    raises("optimization.Renderer", "unknown layer", lambda e: f("optimization.Renderer")(
        e.vgg, f("optimization.channel")("fc9", 0)), "'fc9'", "block4_conv2"),
    raises("optimization.render", "channel out of range on the ImageNet tier", lambda e: f("optimization.render")(
        e.imagenet, f("optimization.channel")(e.imagenet.feature_layers[0], 10_000), steps=1, progress=False),
        "10000 is out of range", "< 16"),
    # ---- base: the checks every method uses -------------------------------------------------------------------
    raises("base.keras_model", "not a model", lambda e: f("base.keras_model")("fashion_vgg"), "str", "load_model"),
    raises("base.check_x", "HxWx3 without batch", lambda e: f("base.check_x")(e.tiny, e.x[0]), "(8, 8, 3)",
           "(N, 8, 8, 3)"),
    raises("base.batch_for", "a zero batch", lambda e: f("base.batch_for")(e.x, 0), "batch_size=0", ">= 1"),
    raises("base.batch_for", "a fractional batch", lambda e: f("base.batch_for")(e.x, 2.5), "batch_size=2.5", "integer"),
    raises("activations.get_activations", "a negative batch", lambda e: f("activations.get_activations")(
        e.tiny, e.x, "conv_a", batch_size=-1), "batch_size=-1", ">= 1"),
    raises("base.check_target", "fractional class", lambda e: f("base.check_target")(1.5, 2, 3), "1.5", "[0, 2]"),
    Handled("base.check_target", "a whole float class", lambda e: f("base.check_target")(2.0, 2, 3),
            lambda r, e: r.dtype == np.int64 and r.tolist() == [2, 2]),
    raises("base.check_index", "a bool", lambda e: f("base.check_index")(True, "channel", 6, "channel"), "True", "[0, 5]"),
    raises("base.check_number", "NaN", lambda e: f("base.check_number")("learning_rate", float("nan"), 0, low_open=True),
           "learning_rate=nan", "> 0"),
    raises("base.check_vectors", "one vector without batch", lambda e: f("base.check_vectors")(np.ones(4)), "(4,)",
           "(N, C)"),
    raises("base.check_vectors", "a zero direction", lambda e: f("base.check_vectors")(np.eye(3)[:, :2], nonzero=True),
           "rows [2]", "all zero"),
    raises("base.check_image_values", "floats in 0-255", lambda e: f("base.check_image_values")(np.full(4, 255.0)),
           "[255, 255]", "[0, 1]"),
    Handled("base.check_image_values", "uint8", lambda e: f("base.check_image_values")(np.array([0, 51, 255], np.uint8)),
            lambda r, e: r.dtype == np.float32 and np.allclose(r, [0, 0.2, 1])),
    raises("models.course_model", "not a model", lambda e: f("models.course_model")(np.zeros(3)), "ndarray",
           "keras.Model"),
    # ---- efficientnet, checks ---------------------------------------------------------------------------------
    raises("efficientnet.read_torch_legacy", "a file that is not a PyTorch file",
           lambda e: f("efficientnet.read_torch_legacy")(_text_file(e)), "not-a-model.txt", "legacy-format"),
    raises("efficientnet.build_efficientnet_lite0", "weights from a file that is not a PyTorch file",
           lambda e: f("efficientnet.build_efficientnet_lite0")(_text_file(e)), "not-a-model.txt", "legacy-format"),
    raises("efficientnet.keras_weights", "a state_dict without the network's tensors",
           lambda e: f("efficientnet.keras_weights")({"fc.weight": np.zeros((2, 2))}), "lack", "_conv_stem.weight"),
    raises("checks.expect", "a negative tolerance", lambda e: f("checks.expect")("rate", 0.5, 0.5, -0.1), "tolerance",
           ">= 0"),
    # ---- plotting -------------------------------------------------------------------------------------------
    raises("plotting.normalize", "a batch instead of one map", lambda e: f("plotting.normalize")(np.zeros((2, 8, 8))),
           "(2, 8, 8)", "(h, w)"),
    raises("base.resize_map", "a batch instead of one map",
           lambda e: f("base.resize_map")(np.zeros((2, 8, 8)), (64, 64)), "(2, 8, 8)", "(h, w)"),
    raises("base.resize_maps", "one map instead of a batch",
           lambda e: f("base.resize_maps")(np.zeros((8, 8)), (64, 64)), "(8,)", "(h, w)"),
    raises("plotting.upsample_rgb", "one map instead of an image",
           lambda e: f("plotting.upsample_rgb")(np.zeros((8, 8)), (64, 64)), "(8, 8)", "(h, w, 3)"),
    raises("plotting.overlay", "a batch of maps", lambda e: f("plotting.overlay")(e.image, np.zeros((2, 8, 8))),
           "(2, 8, 8)", "(h, w)"),
    raises("plotting.signed_overlay", "a batch of maps",
           lambda e: f("plotting.signed_overlay")(e.image, np.zeros((2, 8, 8))), "(2, 8, 8)", "(h, w)"),
    Handled("plotting.signed_overlay", "an all-zero map (white, no NaN in the scale)",
            lambda e: f("plotting.signed_overlay")(e.image, np.zeros((8, 8))),
            lambda r, e: r.get_clim() == (-1.0, 1.0)),
    raises("gallery.write_gallery", "a folder without executed notebooks",
           lambda e: f("gallery.write_gallery")(e.tmp), "NN_*.ipynb", "make course", error=FileNotFoundError),
    raises("gallery.gallery_items", "a missing notebook",
           lambda e: f("gallery.gallery_items")(e.tmp / "02_none.ipynb"), "02_none.ipynb", "make course",
           error=FileNotFoundError),
    raises("plotting.plot_layout", "labels of another length",
           lambda e: f("plotting.plot_layout")(np.zeros((5, 2)), np.zeros(4, int)), "labels of shape (4,)", "5 points"),
    raises("plotting.plot_layout", "a 3-D layout", lambda e: f("plotting.plot_layout")(np.zeros((5, 3)), np.zeros(5, int)),
           "(5, 3)", "(N, 2)"),
    raises("plotting.plot_layout", "NaN in the layout",
           lambda e: f("plotting.plot_layout")(_nan((5, 2)), np.zeros(5, int)), "1 NaN", "finite"),
    raises("plotting.plot_layout", "float labels", lambda e: f("plotting.plot_layout")(np.zeros((5, 2)), np.zeros(5)),
           "float64", "integer class indices"),
    raises("plotting.plot_layout", "images of another count", lambda e: f("plotting.plot_layout")(
        np.zeros((3, 2)), np.zeros(3, int), images=e.images[:2]), "images of shape (2, 64, 64, 3)", "3 points"),
    raises("plotting.plot_layout", "wrong flags of another length", lambda e: f("plotting.plot_layout")(
        np.zeros((3, 2)), np.zeros(3, int), wrong=np.ones(4, bool)), "wrong of shape (4,)", "one per point"),
    Handled("plotting.plot_layout", "identical points: drawn in a unit box around them",
            lambda e: _warned(lambda: f("plotting.plot_layout")(np.ones((4, 2)), np.arange(4), images=e.images[[0, 1, 2, 0]])),
            lambda r, e: not r[1] and np.allclose(r[0].axes[0].get_xlim(), (0.97, 1.03))),
    raises("plotting.show_images", "no images", lambda e: f("plotting.show_images")([]), "no images", "at least one"),
    raises("base.tile", "zero columns", lambda e: f("base.tile")(np.zeros((4, 8, 8)), 0), "ncols=0", ">= 1"),
    raises("plotting.activation_grid", "a batch of activations",
           lambda e: f("plotting.activation_grid")(np.zeros((1, 8, 8, 6))), "(1, 8, 8, 6)", "(h, w, channels)"),
    raises("plotting.activation_grid", "channel out of range",
           lambda e: f("plotting.activation_grid")(np.zeros((8, 8, 6)), channels=[2, 6]), "[6]", "< 6"),
    raises("plotting.activation_grid", "one peak for three channels",
           lambda e: f("plotting.activation_grid")(np.zeros((8, 8, 6)), channels=[0, 1, 2], peaks=[1.0]),
           "(1,)", "3 finite numbers"),
    # ---- runner, bench, train -------------------------------------------------------------------------------
    raises("runner.course_notebooks", "missing folder", lambda e: f("runner.course_notebooks")(e.tmp / "nope"),
           "nope", "folder", error=FileNotFoundError),
    Handled("runner.run_notebook", "missing notebook (reported, never raised)",
            lambda e: f("runner.run_notebook")(e.tmp / "99_missing.ipynb", e.tmp / "out", html=False),
            lambda r, e: not r.ok and "99_missing.ipynb" in r.error),
    raises("train.train", "unknown model", lambda e: f("train.train")("alexnet"), "'alexnet'", "fashion_vgg"),
    raises("train.evaluate", "no scenes", lambda e: f("train.evaluate")(e.vgg.model, n=0), "n=0", "positive"),
    # ---- widgets --------------------------------------------------------------------------------------------
    raises("widgets.activation_explorer", "unknown layer",
           lambda e: f("widgets.activation_explorer")(e.vgg, e.images, layers=["block1_conv9"]), "'block1_conv9'",
           "block1_conv2"),
    raises("widgets.activation_explorer", "wrong size", lambda e: f("widgets.activation_explorer")(
        e.vgg, np.zeros((2, 32, 32, 3))), "(2, 32, 32, 3)", "(N, 64, 64, 3)"),
    raises("widgets.activation_explorer", "a dense layer", lambda e: f("widgets.activation_explorer")(
        e.vgg, e.images, layers=["block1_conv1", "fc1"]), "['fc1']", "spatial", "block4_conv2"),
    Handled("widgets.activation_explorer", "one image instead of a batch",
            lambda e: f("widgets.activation_explorer")(e.vgg, e.image),
            lambda r, e: r.controls["image"].max == 0 and bytes(r.figure.value).startswith(b"\xff\xd8")),
    raises("widgets.saliency_explorer", "unknown method",
           lambda e: f("widgets.saliency_explorer")(e.vgg, e.images, methods=["gradcam"]), "'gradcam'", "vanilla"),
    Handled("widgets.saliency_explorer", "one uint8 image instead of a float batch",
            lambda e: f("widgets.saliency_explorer")(e.vgg, (e.image * 255).astype(np.uint8), methods=["vanilla"]),
            lambda r, e: r.controls["image"].max == 0 and bytes(r.figure.value).startswith(b"\xff\xd8")),
    raises("widgets.feature_explorer", "unknown layer",
           lambda e: f("widgets.feature_explorer")(e.vgg, layers=["block5_conv3"]), "'block5_conv3'", "block4_conv2"),
    raises("widgets.inversion_explorer", "a batch instead of one image",
           lambda e: f("widgets.inversion_explorer")(e.vgg, e.images), "(3, 64, 64, 3)", "(64, 64, 3)"),
    raises("widgets.inversion_explorer", "unknown layer",
           lambda e: f("widgets.inversion_explorer")(e.vgg, e.image, layers=["conv"]), "'conv'", "block1_conv2"),
    raises("widgets.cam_explorer", "layer without spatial output",
           lambda e: f("widgets.cam_explorer")(e.vgg, e.images, layers=["fc1"]), "'fc1'", "block4_conv2"),
    raises("widgets.cam_explorer", "wrong size", lambda e: f("widgets.cam_explorer")(e.vgg, np.zeros((2, 32, 32, 3))),
           "(2, 32, 32, 3)", "(N, 64, 64, 3)"),
    raises("widgets.dream_explorer", "layer without spatial output",
           lambda e: f("widgets.dream_explorer")(e.vgg, e.images, layers=["fc1"]), "'fc1'", "block4_conv2"),
    raises("widgets.embedding_explorer", "unknown layer",
           lambda e: f("widgets.embedding_explorer")(e.vgg, e.images, np.zeros(3, int), layers=["blockX"]), "'blockX'",
           "block4_conv2"),
    raises("widgets.embedding_explorer", "labels of the wrong length", lambda e: f("widgets.embedding_explorer")(
        e.vgg, e.images, np.zeros(5, int)), "(5,)", "one class index per image, (3,)"),
    raises("widgets.embedding_explorer", "vectors without the layer", lambda e: f("widgets.embedding_explorer")(
        e.vgg, e.images, np.zeros(3, int), layers=["fc1"], vectors={"block4_conv2": np.ones((3, 96))}), "['fc1']",
        "expected keys"),
    raises("widgets.cue_explorer", "an ImageNet model", lambda e: f("widgets.cue_explorer")([e.vgg, e.imagenet]),
           "mobilenet_v2", "bundled"),
    raises("widgets.cue_explorer", "too few scenes", lambda e: f("widgets.cue_explorer")([e.vgg], n=3), "n=3",
           "at least 20"),
    raises("widgets.cue_explorer", "target out of range", lambda e: f("widgets.cue_explorer")([e.vgg], target=10),
           "target=10", "[0, 9]"),
    # ---- dream ----------------------------------------------------------------------------------------------
    raises("dream.Dreamer.check_size", "image too small for the layers",
           lambda e: f("dream.dream")(e.vgg, e.image[:4, :4], "block4_conv2", octaves=1, progress=False), "4x4",
           "at least"),
    raises("dream.dream", "HxW grayscale array", lambda e: f("dream.dream")(e.vgg, np.zeros((64, 64)), progress=False),
           "(64, 64)", "(H, W, 3)"),
    raises("dream.dream", "NaN", lambda e: f("dream.dream")(e.vgg, _nan((64, 64, 3)), progress=False), "NaN", "finite"),
    raises("dream.dream", "unknown layer", lambda e: f("dream.dream")(e.vgg, e.image, "block6_conv1", progress=False),
           "'block6_conv1'", "block4_conv2"),
    raises("dream.dream", "layer without spatial output",
           lambda e: f("dream.dream")(e.vgg, e.image, "fc1", progress=False), "'fc1'", "block4_conv2"),
    raises("dream.dream", "no steps", lambda e: f("dream.dream")(e.vgg, e.image, steps=0, progress=False), "steps=0",
           ">= 1"),
    raises("dream.trunk_model", "layer without spatial output", lambda e: f("dream.trunk_model")(e.vgg.model, "fc1"),
           "'fc1'", "block4_conv2"),
    raises("dream.dreamer", "unknown layer", lambda e: f("dream.dreamer")(e.vgg, ["nope"]), "'nope'", "block4_conv2"),
    # ---- embedding ------------------------------------------------------------------------------------------
    raises("embedding.layer_vectors", "unknown layer", lambda e: f("embedding.layer_vectors")(e.vgg, e.images, "blk"),
           "'blk'", "block4_conv2"),
    raises("embedding.layer_vectors", "no layers", lambda e: f("embedding.layer_vectors")(e.vgg, e.images, []),
           "layers=[]", "non-empty"),
    raises("embedding.layer_vectors", "wrong size", lambda e: f("embedding.layer_vectors")(
        e.vgg, np.zeros((2, 32, 32, 3)), "block1_conv1"), "(2, 32, 32, 3)", "(N, 64, 64, 3)"),
    raises("embedding.project", "unknown method", lambda e: f("embedding.project")(np.ones((5, 4)), "isomap"),
           "'isomap'", "tsne"),
    raises("embedding.project", "NaN", lambda e: f("embedding.project")(_nan((5, 4)), "pca"), "NaN", "finite"),
    raises("embedding.project", "empty", lambda e: f("embedding.project")(np.ones((0, 4)), "pca"), "(0, 4)", "(N, C)"),
    raises("embedding.project", "perplexity above the number of points",
           lambda e: f("embedding.project")(np.eye(5), "tsne", perplexity=30), "perplexity=30", "< 5"),
    raises("embedding.knn_agreement", "labels of the wrong length",
           lambda e: f("embedding.knn_agreement")(np.zeros((5, 2)), np.zeros(4)), "(4,)", "(5,)"),
    raises("embedding.knn_agreement", "k out of range",
           lambda e: f("embedding.knn_agreement")(np.zeros((5, 2)), np.zeros(5), k=5), "k=5", "< 5"),
    raises("embedding.grid_cells", "3-D layout", lambda e: f("embedding.grid_cells")(np.zeros((5, 3))), "(5, 3)",
           "(N, 2)"),
    raises("embedding.grid_cells", "no cells", lambda e: f("embedding.grid_cells")(np.zeros((5, 2)), grid=0),
           "grid=0", ">= 1"),
    raises("embedding.Grid.members", "cell out of range", lambda e: _grid().members(5, 0), "row=5", "[0, 1]"),
    raises("embedding.Grid.cell_box", "cell out of range", lambda e: _grid().cell_box(0, 2), "col=2", "[0, 1]"),
    raises("embedding.directions", "vectors of the wrong width",
           lambda e: _render(e, f("embedding.directions")("block1_conv2", np.ones((1, 5)))), "(1, 5)", "(1, 12)"),
    raises("embedding.render_directions", "vectors of the wrong width", lambda e: f("embedding.render_directions")(
        e.vgg, "block1_conv2", np.ones((2, 5)), steps=1, progress=False), "5 channels", "has 12"),
    raises("embedding.render_directions", "NaN", lambda e: f("embedding.render_directions")(
        e.vgg, "block1_conv2", _nan((2, 12)), steps=1, progress=False), "NaN", "finite"),
    raises("embedding.atlas", "vectors of the wrong width", lambda e: f("embedding.atlas")(
        e.vgg, "block1_conv2", np.ones((20, 5)), np.random.default_rng(0).uniform(size=(20, 2)), grid=2, min_count=1,
        steps=1), "5", "12"),
    raises("embedding.layer_vectors", "unknown position rule",
           lambda e: f("embedding.layer_vectors")(e.vgg, e.images, "block1_conv2", at="centre"), "at='centre'", "peak"),
    raises("embedding.grid_cells", "an extent of zero width",
           lambda e: f("embedding.grid_cells")(np.zeros((5, 2)), extent=(1, 1, 0, 1)), "(1, 1, 0, 1)", "x1 > x0"),
    raises("embedding.cell_majority", "fractional labels",
           lambda e: f("embedding.cell_majority")(_grid(), np.full(20, 0.5)), "float64", "whole numbers"),
    raises("embedding.majority_captions", "too few class names",
           lambda e: f("embedding.majority_captions")(_grid(), np.arange(20) % 3, ["a"]), "reach 2", "1 class names"),
    raises("embedding.align", "different points", lambda e: f("embedding.align")(np.zeros((5, 2)), np.zeros((4, 2))),
           "5 points", "xy 4"),
    raises("embedding.align", "a 3-D layout", lambda e: f("embedding.align")(np.zeros((5, 3)), np.zeros((5, 3))),
           "(5, 3)", "(N, 2)"),
    raises("embedding.align", "NaN", lambda e: f("embedding.align")(_nan((5, 2)), np.ones((5, 2))), "NaN", "finite"),
    raises("embedding.align", "identical points (nothing to rotate)",
           lambda e: f("embedding.align")(np.random.default_rng(0).normal(size=(5, 2)), np.ones((5, 2))),
           "one place", "nothing to align"),
    raises("plotting.plot_atlas", "captions of the wrong shape", lambda e: f("plotting.plot_atlas")(
        f("embedding.Atlas")("x", _grid(), np.ones((2, 2, 4, 4, 3))), captions=np.array([["a"]])), "(1, 1)", "(2, 2)"),
    raises("metrics.energy_on_mask", "NaN map", lambda e: f("metrics.energy_on_mask")(
        _nan((2, 4, 4)), np.ones((2, 4, 4), bool)), "NaN", "finite"),
    raises("metrics.energy_on_mask", "one map for two masks", lambda e: f("metrics.energy_on_mask")(
        np.ones((1, 4, 4)), np.ones((2, 4, 4), bool)), "(1, 4, 4)", "(N, h, w)"),
    raises("train.fold_batch_norm", "a model trained without batch norm has no *_bn layers to fold: architectures differ",
           lambda e: f("train.fold_batch_norm")(f("train.build_fashion_vgg")(), f("train.build_fashion_gap")()),
           "class_conv", "batch_norm=True"),
]

#: Degenerate data (#11) for every embedding and metric function: identical, all-zero, tiny or huge vectors,
#: one or two rows, fewer rows than perplexity/n_neighbors, NaN/inf, constant maps, empty and all-true masks,
#: identical images. t-SNE and UMAP rows run in a child process (:func:`in_child`).
DEGENERATE = [
    # ---- embedding.project: decided in Python before sklearn/umap/numba run ---------------------------------
    raises("embedding.project", "t-SNE of identical vectors (segfaulted)", in_child("project(np.ones((20, 4)), 'tsne')"),
           "all 20 vectors are identical", "another layer"),
    raises("embedding.project", "t-SNE of all-zero vectors, a dead layer", in_child("project(np.zeros((20, 4)), 'tsne')"),
           "all zero", "dead layer"),
    raises("embedding.project", "UMAP of identical vectors", in_child("project(np.ones((20, 4)), 'umap')"),
           "identical", "another layer"),
    raises("embedding.project", "PCA of identical vectors", lambda e: f("embedding.project")(np.ones((20, 4)), "pca"),
           "identical", "another layer"),
    Handled("embedding.project", "t-SNE of vectors 1e-24 apart (segfaulted): the layout of the same vectors x 2^80",
            in_child("np.array_equal(project(V * 2.0 ** -80, 'tsne', perplexity=5), project(V, 'tsne', perplexity=5))"),
            lambda r, e: bool(r)),
    Handled("embedding.project", "t-SNE of vectors 1e21 apart (collapsed to one point): the layout of V",
            in_child("np.array_equal(project(V * 2.0 ** 70, 'tsne', perplexity=5), project(V, 'tsne', perplexity=5))"),
            lambda r, e: bool(r)),
    Handled("embedding.project", "UMAP of vectors 1e21 apart (raised inside umap)",
            in_child("project(V * 2.0 ** 70, 'umap', n_neighbors=5)"),
            lambda r, e: r.shape == (30, 2) and np.isfinite(r).all() and np.ptp(r, 0).min() > 0),
    raises("embedding.project", "one vector", in_child("project(np.ones((1, 4)), 'tsne', perplexity=1)"),
           "1 vector", "at least 2"),
    Handled("embedding.project", "two vectors (t-SNE, perplexity 1)", in_child("project(V[:2], 'tsne', perplexity=1)"),
            lambda r, e: r.shape == (2, 2) and np.isfinite(r).all() and np.ptp(r[:, 0]) > 0),
    raises("embedding.project", "two vectors with the default perplexity", in_child("project(V[:2], 'tsne')"),
           "perplexity=30 with 2 points", "lower the perplexity"),
    raises("embedding.project", "three vectors for UMAP (its spectral start failed)",
           in_child("project(V[:3], 'umap', n_neighbors=2)"), "3 vector", "at least 4"),
    raises("embedding.project", "fewer vectors than n_neighbors", in_child("project(V[:10], 'umap')"),
           "n_neighbors=15 with 10 points", "< 10"),
    Handled("embedding.project", "one channel (t-SNE)", in_child("project(V[:, :1], 'tsne', perplexity=5)"),
            lambda r, e: r.shape == (30, 2) and np.isfinite(r).all()),
    Handled("embedding.project", "two distinct vectors, each 15 times (t-SNE)",
            in_child("project(np.repeat(V[:2], 15, axis=0), 'tsne', perplexity=5)"),
            lambda r, e: r.shape == (30, 2) and np.isfinite(r).all()),
    Handled("embedding.project", "one channel (PCA): the centred values on a line",
            lambda e: f("embedding.project")(np.arange(6.0)[:, None], "pca"),
            lambda r, e: np.allclose(np.abs(r[:, 0]), np.abs(np.arange(6.0) - 2.5), atol=1e-5) and not r[:, 1].any()),
    raises("embedding.project", "infinite value", lambda e: f("embedding.project")(np.full((5, 4), np.inf), "tsne"),
           "20 infinite", "finite"),
    raises("embedding.project", "NaN perplexity", lambda e: f("embedding.project")(np.eye(5), "tsne", perplexity=np.nan),
           "perplexity=nan", "a number"),
    raises("embedding.project", "perplexity True", lambda e: f("embedding.project")(np.eye(5), "tsne", perplexity=True),
           "perplexity=True", "a number"),
    raises("embedding.project", "fractional n_neighbors",
           lambda e: f("embedding.project")(np.eye(5), "umap", n_neighbors=2.5), "n_neighbors=2.5", "an integer"),
    raises("embedding.project", "negative seed", lambda e: f("embedding.project")(np.eye(5), "pca", seed=-1), "seed=-1",
           ">= 0"),
    # ---- embedding: neighbours, grids, directions ----------------------------------------------------------
    raises("embedding.knn_agreement", "one point", lambda e: f("embedding.knn_agreement")(np.zeros((1, 2)), [0]),
           "1 point", "at least 2"),
    Handled("embedding.knn_agreement", "identical points: a valid score",
            lambda e: f("embedding.knn_agreement")(np.zeros((6, 2)), np.array([0, 0, 0, 1, 1, 1]), k=2),
            lambda r, e: 0 <= r <= 1),
    Handled("embedding.knn_agreement", "duplicates never count themselves", lambda e: f("embedding.knn_agreement")(
        np.repeat([[0.0, 0], [5, 5]], 2, axis=0), np.array([0, 1, 2, 2]), k=1), lambda r, e: r == 0.5),
    raises("embedding.knn_agreement", "fractional k",
           lambda e: f("embedding.knn_agreement")(np.eye(5), np.zeros(5), k=2.5), "k=2.5", "an integer"),
    Handled("embedding.grid_cells", "identical points: one cell",
            lambda e: f("embedding.grid_cells")(np.ones((5, 2)), np.ones((5, 3)), grid=4, min_count=1),
            lambda r, e: r.n_filled == 1 and r.counts.sum() == 5 and np.isfinite(r.means).all()),
    Handled("embedding.grid_cells", "one point", lambda e: f("embedding.grid_cells")(np.zeros((1, 2)), grid=3, min_count=1),
            lambda r, e: r.n_filled == 1),
    Handled("embedding.grid_cells", "a whole float grid", lambda e: f("embedding.grid_cells")(np.eye(2), grid=3.0),
            lambda r, e: r.grid == 3 and r.counts.shape == (3, 3)),
    raises("embedding.grid_cells", "fractional min_count",
           lambda e: f("embedding.grid_cells")(np.eye(2), min_count=1.5), "min_count=1.5", "an integer"),
    Handled("embedding.Grid.cell_box", "a whole float cell", lambda e: _grid().cell_box(1.0, 0.0),
            lambda r, e: r == _grid().cell_box(1, 0)),
    raises("embedding.directions", "a zero vector: no direction",
           lambda e: _render(e, f("embedding.directions")("block1_conv2", np.zeros((1, 12)))), "rows [0]", "all zero"),
    raises("embedding.directions", "two directions for one image",
           lambda e: _render(e, f("embedding.directions")("block1_conv2", np.ones((2, 12)))), "(2, 12)", "(1, 12)"),
    raises("embedding.render_directions", "a zero vector", lambda e: f("embedding.render_directions")(
        e.vgg, "block1_conv2", np.zeros((2, 12)), steps=1, progress=False), "rows [0, 1]", "all zero"),
    Handled("embedding.atlas", "a filled cell whose mean is zero (a dead region) stays white",
            lambda e: f("embedding.atlas")(e.vgg, "block1_conv2", np.r_[np.zeros((3, 12)), np.ones((3, 12))],
                                           np.r_[np.zeros((3, 2)), np.ones((3, 2))], grid=2, min_count=1, steps=1,
                                           progress=False),
            lambda r, e: r.cells.n_filled == 2 and (r.icons[1, 0] == 1).all() and (r.icons[0, 1] < 1).any()),
    # ---- metrics and maps -----------------------------------------------------------------------------------
    Handled("metrics.pointing_game", "a constant map points nowhere: a miss (was a hit at the first pixel)",
            lambda e: f("metrics.pointing_game")(np.zeros((1, 8, 8)), np.ones((1, 8, 8), bool)),
            lambda r, e: r.tolist() == [False]),
    Handled("metrics.pointing_game", "an empty mask: a miss", lambda e: f("metrics.pointing_game")(
        _peak(), np.zeros((1, 8, 8), bool), tolerance=8), lambda r, e: r.tolist() == [False]),
    Handled("metrics.pointing_game", "an all-true mask: a hit", lambda e: f("metrics.pointing_game")(
        _peak(), np.ones((1, 8, 8), bool)), lambda r, e: r.tolist() == [True]),
    raises("metrics.pointing_game", "negative tolerance", lambda e: f("metrics.pointing_game")(
        _peak(), np.ones((1, 8, 8), bool), tolerance=-1), "tolerance=-1", ">= 0"),
    raises("metrics.pointing_game", "fractional tolerance", lambda e: f("metrics.pointing_game")(
        _peak(), np.ones((1, 8, 8), bool), tolerance=1.5), "tolerance=1.5", "an integer"),
    raises("metrics.pointing_game", "maps of no pixels", lambda e: f("metrics.pointing_game")(
        np.zeros((1, 0, 8)), np.ones((1, 8, 8), bool)), "(1, 0, 8)", "(N, h, w)"),
    Handled("metrics.random_pointing_baseline", "empty masks", lambda e: f("metrics.random_pointing_baseline")(
        np.zeros((2, 8, 8), bool)), lambda r, e: r == 0.0),
    Handled("metrics.random_pointing_baseline", "all-true masks", lambda e: f("metrics.random_pointing_baseline")(
        np.ones((2, 8, 8), bool)), lambda r, e: r == 1.0),
    Handled("metrics.rank_correlation", "a constant map: 0, never NaN", lambda e: f("metrics.rank_correlation")(
        _peak(), np.zeros((1, 8, 8))), lambda r, e: r.tolist() == [0.0]),
    Handled("metrics.rank_correlation", "two constant maps: 0", lambda e: f("metrics.rank_correlation")(
        np.ones((1, 8, 8)), np.ones((1, 8, 8))), lambda r, e: r.tolist() == [0.0]),
    Handled("metrics.rank_correlation", "identical maps: 1", lambda e: f("metrics.rank_correlation")(_peak(), _peak()),
            lambda r, e: np.allclose(r, 1)),
    raises("metrics.rank_correlation", "NaN", lambda e: f("metrics.rank_correlation")(_nan((1, 8, 8)), _peak()),
           "1 NaN", "finite"),
    Handled("metrics.psnr", "identical images: 120 dB, not infinity", lambda e: f("metrics.psnr")(
        e.images, e.images), lambda r, e: np.allclose(r, 120)),
    Handled("metrics.psnr", "uint8 images: scaled like floats", lambda e: f("metrics.psnr")(
        np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8, 3), 51, np.uint8)), lambda r, e: np.allclose(
        r, f("metrics.psnr")(np.zeros((1, 8, 8, 3)), np.full((1, 8, 8, 3), 0.2)))),
    raises("metrics.psnr", "floats in 0-255", lambda e: f("metrics.psnr")(e.images * 255, e.images * 255), "255",
           "[0, 1]"),
    raises("metrics.psnr", "NaN", lambda e: f("metrics.psnr")(_nan((1, 8, 8, 3)), np.zeros((1, 8, 8, 3))), "1 NaN",
           "finite"),
    raises("metrics.psnr", "one image without batch", lambda e: f("metrics.psnr")(e.image, e.image), "(64, 64, 3)",
           "(N, H, W, 3)"),
    raises("metrics.psnr", "empty batch", lambda e: f("metrics.psnr")(e.images[:0], e.images[:0]), "(0, 64, 64, 3)",
           "(N, H, W, 3)"),
    Handled("metrics.ssim", "identical images: 1", lambda e: f("metrics.ssim")(e.images, e.images),
            lambda r, e: np.allclose(r, 1)),
    Handled("metrics.ssim", "identical constant images: 1", lambda e: f("metrics.ssim")(
        np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 3))), lambda r, e: np.allclose(r, 1)),
    raises("metrics.ssim", "images smaller than the 11x11 window", lambda e: f("metrics.ssim")(
        np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 3))), "(1, 8, 8, 3)", "H, W >= 11"),
    raises("metrics.ssim", "NaN", lambda e: f("metrics.ssim")(_nan((1, 16, 16, 3)), np.zeros((1, 16, 16, 3))),
           "1 NaN", "finite"),
    Handled("metrics.perturbation_curves", "a constant map deletes pixels in random order (was top rows first)",
            lambda e: _curves(np.zeros((1, 8, 8)))["deletion"][0, 2], lambda r, e: 0.2 < r < 0.8),
    Handled("metrics.perturbation_curves", "a map without ties keeps its exact order",
            lambda e: _curves(-np.arange(64.0).reshape(1, 8, 8))["deletion"][0, 2], lambda r, e: r == 0),
    raises("metrics.perturbation_curves", "fractional class", lambda e: _curves(np.zeros((1, 8, 8)), target=1.5),
           "target=1.5", "[0, 1]"),
    raises("metrics.perturbation_curves", "a class per image, wrong count",
           lambda e: _curves(np.zeros((1, 8, 8)), target=[0, 1]), "(2,)", "one per image"),
    raises("metrics.perturbation_curves", "fractional steps", lambda e: _curves(np.zeros((1, 8, 8)), steps=2.5),
           "steps=2.5", "an integer"),
    raises("metrics.perturbation_curves", "negative sigma", lambda e: _curves(np.zeros((1, 8, 8)), sigma=-1),
           "sigma=-1", ">= 0"),
    raises("metrics.perturbation_curves", "no batch", lambda e: _curves(np.zeros((1, 8, 8)), batch_size=0),
           "batch_size=0", ">= 1"),
    raises("metrics.perturbation_curves", "NaN map", lambda e: _curves(_nan((1, 8, 8))), "1 NaN", "finite"),
    raises("metrics.perturbation_curves", "images in 0-255", lambda e: f("metrics.perturbation_curves")(
        _halves, np.full((1, 8, 8, 3), 255.0), np.zeros((1, 8, 8)), 0), "255", "[0, 1]"),
    raises("metrics.auc", "fractions of another length", lambda e: f("metrics.auc")(np.ones((2, 5)), np.linspace(0, 1, 4)),
           "(4,)", "(K,)"),
    raises("metrics.auc", "one point per curve", lambda e: f("metrics.auc")(np.ones((2, 1))), "(2, 1)", "K >= 2"),
    raises("metrics.auc", "NaN", lambda e: f("metrics.auc")(_nan((2, 5))), "1 NaN", "finite"),
    Handled("base.normalize_maps", "a constant map: zeros, never NaN", lambda e: f("base.normalize_maps")(
        np.ones((2, 8, 8))), lambda r, e: not r.any()),
    raises("base.normalize_maps", "NaN", lambda e: f("base.normalize_maps")(_nan((2, 8, 8))), "1 NaN", "finite"),
    Handled("plotting.normalize", "a constant map: zeros", lambda e: f("plotting.normalize")(np.full((8, 8), 3.0)),
            lambda r, e: not r.any()),
    raises("base.check_finite", "infinity", lambda e: f("base.check_finite")([1.0, np.inf], "curve"), "curve",
           "1 infinite"),
]

#: Every numeric argument of every optimizer (#11): NaN, inf, zero, negative, fractional and boolean values
#: where whole or positive numbers are expected; a whole float such as 3.0 is taken as 3.
NAN, INF = float("nan"), float("inf")
NUMBERS = [
    # ---- optimization.render / Renderer ---------------------------------------------------------------------
    raises("optimization.render", "NaN learning rate (returned NaN images)", lambda e: _tiny(e, learning_rate=NAN),
           "learning_rate=nan", "> 0"),
    raises("optimization.render", "zero learning rate (returned quietly)", lambda e: _tiny(e, learning_rate=0),
           "learning_rate=0", "> 0"),
    raises("optimization.render", "negative learning rate", lambda e: _tiny(e, learning_rate=-0.1), "learning_rate=-0.1",
           "> 0"),
    raises("optimization.render", "huge learning rate", lambda e: _tiny(e, learning_rate=1e6), "learning_rate=1000000.0",
           "<= 10"),
    raises("optimization.render", "no steps (returned quietly)", lambda e: _tiny(e, steps=0), "steps=0", ">= 1"),
    raises("optimization.render", "negative steps", lambda e: _tiny(e, steps=-3), "steps=-3", ">= 1"),
    raises("optimization.render", "fractional steps", lambda e: _tiny(e, steps=2.5), "steps=2.5", "an integer"),
    Handled("optimization.render", "a whole float of steps", lambda e: _tiny(e, steps=2.0),
            lambda r, e: r[1].shape == (2, 1) and np.isfinite(r[0]).all()),
    raises("optimization.render", "no images", lambda e: _tiny(e, n=0), "n=0", ">= 1"),
    raises("optimization.render", "n=True", lambda e: _tiny(e, n=True), "n=True", "an integer"),
    raises("optimization.render", "n that contradicts param",
           lambda e: _tiny(e, n=2, param=f("optimization.Pixels")(1, 8)), "n=2", "leave n out"),
    raises("optimization.render", "negative seed", lambda e: _tiny(e, seed=-1), "seed=-1", ">= 0"),
    raises("optimization.render", "NaN seed", lambda e: _tiny(e, seed=NAN), "seed=nan", "an integer"),
    raises("optimization.Renderer", "not an objective",
           lambda e: f("optimization.Renderer")(e.tiny, lambda acts: acts["conv_b"]), "function", "channel(layer, c)"),
    raises("optimization.Renderer.run", "no steps", lambda e: _renderer(e).run(0, progress=False), "steps=0", ">= 1"),
    raises("optimization.Renderer.run", "NaN steps", lambda e: _renderer(e).run(NAN, progress=False), "steps=nan",
           "an integer"),
    raises("optimization.Renderer.run", "a NaN weight in a tf.Variable: the render diverges", lambda e: _renderer(
        e, f("optimization.channel")("conv_b", 0) * _variable(NAN)).run(2, progress=False), "diverged",
           "lower the learning rate"),
    # ---- parameterizations ----------------------------------------------------------------------------------
    raises("optimization.Pixels", "no images", lambda e: f("optimization.Pixels")(0, 8), "n=0", ">= 1"),
    raises("optimization.Pixels", "fractional size", lambda e: f("optimization.Pixels")(1, 8.5), "size=8.5",
           "an integer"),
    raises("optimization.Pixels", "negative std", lambda e: f("optimization.Pixels")(1, 8, std=-1), "std=-1", ">= 0"),
    raises("optimization.Pixels", "NaN std", lambda e: f("optimization.Pixels")(1, 8, std=NAN), "std=nan", "a number"),
    raises("optimization.Pixels", "start image with a NaN pixel (returned NaN images)",
           lambda e: f("optimization.Pixels")(1, 8, init=_nan((1, 8, 8, 3))), "init with 1 NaN", "finite"),
    raises("optimization.Pixels", "start image in 0-255 floats",
           lambda e: f("optimization.Pixels")(1, 8, init=np.full((1, 8, 8, 3), 255.0)), "255", "[0, 1]"),
    raises("optimization.Pixels", "start image of another size",
           lambda e: f("optimization.Pixels")(1, 8, init=np.zeros((1, 16, 16, 3))), "(1, 16, 16, 3)", "(1, 8, 8, 3)"),
    raises("optimization.Pixels", "two start images for n=1",
           lambda e: f("optimization.Pixels")(1, 8, init=np.zeros((2, 8, 8, 3))), "(2, 8, 8, 3)", "pass n and size"),
    Handled("optimization.Pixels", "one uint8 start image (H, W, 3)",
            lambda e: f("optimization.Pixels")(1, 8, init=np.full((8, 8, 3), 51, np.uint8))().numpy(),
            lambda r, e: r.shape == (1, 8, 8, 3) and np.allclose(r, 0.2, atol=1e-5)),
    Handled("optimization.Pixels", "start image with 0 and 1: clipped so the sigmoid reaches it",
            lambda e: f("optimization.Pixels")(1, 8, init=np.eye(8)[None, :, :, None].repeat(3, -1))().numpy(),
            lambda r, e: np.isfinite(r).all() and np.abs(r - np.eye(8)[None, :, :, None]).max() < 2e-3),
    raises("optimization.Fourier", "no images", lambda e: f("optimization.Fourier")(0, 8), "n=0", ">= 1"),
    raises("optimization.Fourier", "NaN size", lambda e: f("optimization.Fourier")(1, NAN), "size=nan", "an integer"),
    raises("optimization.Fourier", "infinite std", lambda e: f("optimization.Fourier")(1, 8, std=INF), "std=inf",
           "a number"),
    raises("optimization.Fourier", "negative decay", lambda e: f("optimization.Fourier")(1, 8, decay=-1), "decay=-1",
           ">= 0"),
    raises("optimization.Fourier", "decay above 4", lambda e: f("optimization.Fourier")(1, 8, decay=10), "decay=10",
           "<= 4"),
    # ---- transforms ----------------------------------------------------------------------------------------
    raises("optimization.jitter", "NaN", lambda e: f("optimization.jitter")(NAN), "d=nan", "an integer"),
    raises("optimization.jitter", "fractional", lambda e: f("optimization.jitter")(1.5), "d=1.5", "an integer"),
    raises("optimization.jitter", "True", lambda e: f("optimization.jitter")(True), "d=True", "an integer"),
    Handled("optimization.jitter", "a whole float", lambda e: f("optimization.jitter")(2.0)(np.zeros((1, 8, 8, 3),
                                                                                                     np.float32)),
            lambda r, e: tuple(r.shape) == (1, 8, 8, 3)),
    raises("optimization.jitter", "a shift as large as the image", lambda e: _tiny(
        e, transforms=[f("optimization.jitter")(8)]), "d=8", "d < 8"),
    raises("optimization.random_scale", "NaN factor", lambda e: f("optimization.random_scale")([1.0, NAN]),
           "scale=nan", "> 0"),
    raises("optimization.random_scale", "zero factor", lambda e: f("optimization.random_scale")([0, 1]), "scale=0",
           "> 0"),
    raises("optimization.random_scale", "huge factor", lambda e: f("optimization.random_scale")([100]), "scale=100",
           "<= 10"),
    raises("optimization.random_scale", "one number instead of a list", lambda e: f("optimization.random_scale")(1.05),
           "scales=1.05", "non-empty list"),
    Handled("optimization.random_scale", "a factor so small the image would vanish: at least one pixel",
            lambda e: f("optimization.random_scale")([0.01])(np.ones((1, 8, 8, 3), np.float32)),
            lambda r, e: tuple(r.shape) == (1, 8, 8, 3) and np.isfinite(r).all()),
    raises("optimization.random_rotate", "NaN", lambda e: f("optimization.random_rotate")(NAN), "degrees=nan",
           "a number"),
    raises("optimization.random_rotate", "infinite", lambda e: f("optimization.random_rotate")(INF), "degrees=inf",
           "<= 180"),
    raises("optimization.random_rotate", "negative", lambda e: f("optimization.random_rotate")(-10), "degrees=-10",
           ">= 0"),
    raises("optimization.random_rotate", "above 180", lambda e: f("optimization.random_rotate")(270), "degrees=270",
           "<= 180"),
    raises("optimization.standard_transforms", "size 0", lambda e: f("optimization.standard_transforms")(0), "size=0",
           ">= 1"),
    raises("optimization.standard_transforms", "NaN size", lambda e: f("optimization.standard_transforms")(NAN),
           "size=nan", "an integer"),
    # ---- objectives ----------------------------------------------------------------------------------------
    Handled("optimization.channel", "a whole float channel (raised inside TensorFlow)",
            lambda e: _tiny(e, f("optimization.channel")("conv_b", 3.0)),
            lambda r, e: np.isfinite(r[0]).all() and r[1].shape == (1, 1)),
    raises("optimization.channel", "fractional channel", lambda e: f("optimization.channel")("conv_b", 3.5),
           "channel=3.5", "an integer"),
    raises("optimization.channel", "NaN channel", lambda e: f("optimization.channel")("conv_b", NAN), "channel=nan",
           "an integer"),
    raises("optimization.channel", "infinite channel", lambda e: f("optimization.channel")("conv_b", INF),
           "channel=inf", "an integer"),
    raises("optimization.channel", "channel True", lambda e: f("optimization.channel")("conv_b", True), "channel=True",
           "an integer"),
    raises("optimization.channel", "negative channel", lambda e: f("optimization.channel")("conv_b", -1), "channel=-1",
           ">= 0"),
    raises("optimization.channel", "a fractional channel in a list", lambda e: f("optimization.channel")(
        "conv_b", [0, 1.5]), "channel=1.5", "an integer"),
    raises("optimization.channel", "an empty list", lambda e: f("optimization.channel")("conv_b", []), "channel=[]",
           "non-empty list"),
    raises("optimization.channel", "three channels for two images",
           lambda e: _tiny(e, f("optimization.channel")("conv_b", [0, 1, 2]), n=2), "does not fit a batch of 2",
           "n equal to its length"),
    Handled("optimization.neuron", "whole float channel and position",
            lambda e: _tiny(e, f("optimization.neuron")("conv_b", 2.0, y=1.0, x=7.0)),
            lambda r, e: np.isfinite(r[0]).all()),
    raises("optimization.neuron", "fractional channel", lambda e: f("optimization.neuron")("conv_b", 0.5),
           "channel=0.5", "an integer"),
    raises("optimization.neuron", "fractional y", lambda e: f("optimization.neuron")("conv_b", 0, y=1.5), "y=1.5",
           "an integer"),
    raises("optimization.neuron", "NaN x", lambda e: f("optimization.neuron")("conv_b", 0, x=NAN), "x=nan",
           "an integer"),
    raises("optimization.neuron", "x out of range", lambda e: _tiny(e, f("optimization.neuron")("conv_b", 0, x=8)),
           "x=8", "< 8"),
    Handled("optimization.class_logit", "a whole float class (raised inside TensorFlow)",
            lambda e: _tiny(e, f("optimization.class_logit")(2.0)), lambda r, e: np.isfinite(r[0]).all()),
    raises("optimization.class_logit", "fractional class", lambda e: f("optimization.class_logit")(2.5), "class=2.5",
           "an integer"),
    raises("optimization.class_logit", "class True", lambda e: f("optimization.class_logit")(True), "class=True",
           "an integer"),
    raises("optimization.class_logit", "class out of range (tiny model)",
           lambda e: _tiny(e, f("optimization.class_logit")(3)), "class 3", "< 3"),
    raises("optimization.direction", "NaN in the vector", lambda e: f("optimization.direction")("conv_b", _nan(6)),
           "1 NaN", "finite"),
    raises("optimization.direction", "a zero vector: no direction (rendered noise)",
           lambda e: f("optimization.direction")("conv_b", np.zeros(6)), "all zero", "no direction"),
    raises("optimization.direction", "a matrix", lambda e: f("optimization.direction")("conv_b", np.ones((2, 6))),
           "(2, 6)", "(channels,)"),
    raises("optimization.feature_match", "NaN target",
           lambda e: f("optimization.feature_match")("conv_b", _nan((1, 8, 8, 6))), "target with 1 NaN", "finite"),
    raises("optimization.Objective", "NaN weight", lambda e: f("optimization.channel")("conv_b", 0) * NAN,
           "weight=nan", "a number"),
    raises("optimization.Objective", "infinite weight on the left", lambda e: INF * f("optimization.total_variation")(),
           "weight=inf", "a number"),
    raises("optimization.l2", "NaN centre", lambda e: f("optimization.l2")(NAN), "center=nan", "a number"),
    raises("optimization.l2", "centre outside the image range", lambda e: f("optimization.l2")(2), "center=2",
           "<= 1"),
    # ---- dream ----------------------------------------------------------------------------------------------
    raises("dream.dream", "NaN steps", lambda e: _dream(e, steps=NAN), "steps=nan", "an integer"),
    raises("dream.dream", "fractional octaves", lambda e: _dream(e, octaves=2.5), "octaves=2.5", "an integer"),
    raises("dream.dream", "octave_scale 1: no octaves apart", lambda e: _dream(e, octave_scale=1.0),
           "octave_scale=1.0", "> 1"),
    raises("dream.dream", "infinite octave_scale", lambda e: _dream(e, octave_scale=INF), "octave_scale=inf", "<= 4"),
    raises("dream.dream", "zero step size", lambda e: _dream(e, step_size=0), "step_size=0", "> 0"),
    raises("dream.dream", "NaN step size", lambda e: _dream(e, step_size=NAN), "step_size=nan", "> 0"),
    raises("dream.dream", "tile_size True", lambda e: _dream(e, tile_size=True), "tile_size=True", "an integer"),
    raises("dream.dream", "negative seed", lambda e: _dream(e, seed=-1), "seed=-1", ">= 0"),
    raises("dream.dream", "NaN layer weight", lambda e: _dream(e, layers={"block2_conv2": NAN}), "nan", "finite"),
    Handled("dream.dream", "whole floats of steps and octaves", lambda e: _dream(e, steps=1.0, octaves=1.0),
            lambda r, e: r.image.shape == (64, 64, 3) and np.isfinite(r.image).all()),
    # ---- embedding: atlas render ---------------------------------------------------------------------------
    raises("embedding.render_directions", "no steps", lambda e: _directions(e, steps=0), "steps=0", ">= 1"),
    raises("embedding.render_directions", "fractional batch", lambda e: _directions(e, batch=2.5), "batch=2.5",
           "an integer"),
    raises("embedding.render_directions", "negative cosine power", lambda e: _directions(e, cossim_pow=-1),
           "cossim_pow=-1", ">= 0"),
    raises("embedding.render_directions", "NaN learning rate", lambda e: _directions(e, learning_rate=NAN),
           "learning_rate=nan", "> 0"),
    raises("embedding.render_directions", "negative seed", lambda e: _directions(e, seed=-2), "seed=-2", ">= 0"),
    raises("embedding.directions", "NaN cosine power",
           lambda e: f("embedding.directions")("conv_b", np.ones((1, 6)), cossim_pow=NAN), "cossim_pow=nan", ">= 0"),
    raises("embedding.atlas", "NaN grid", lambda e: _atlas(e, grid=NAN), "grid=nan", "an integer"),
    raises("embedding.atlas", "no cells", lambda e: _atlas(e, grid=0), "grid=0", ">= 1"),
    raises("embedding.atlas", "fractional min_count", lambda e: _atlas(e, min_count=2.5), "min_count=2.5",
           "an integer"),
    raises("embedding.atlas", "NaN steps", lambda e: _atlas(e, steps=NAN), "steps=nan", "an integer"),
    raises("embedding.atlas", "zero learning rate", lambda e: _atlas(e, learning_rate=0), "learning_rate=0", "> 0"),
    Handled("embedding.atlas", "a whole float grid", lambda e: _atlas(e, grid=2.0),
            lambda r, e: r.icons.shape == (2, 2, 64, 64, 3) and np.isfinite(r.icons).all()),
    # ---- activations ----------------------------------------------------------------------------------------
    raises("activations.top_patches", "fractional channel",
           lambda e: f("activations.top_patches")(e.tiny, e.x, e.x, "conv_b", 2.5), "channel=2.5", "[0, 5]"),
    raises("activations.top_patches", "no patches", lambda e: f("activations.top_patches")(e.tiny, e.x, e.x, "conv_b", 0,
                                                                                           k=0), "k=0", ">= 1"),
]

def _load(name):
    return lambda e: f("images.load_image")(e.tmp / name)


def _pixel(y, x, rgb, atol=1e-6):
    """A check: the loaded image is (6, 8, 3) float32 in [0, 1] with ``rgb`` at ``(y, x)``."""
    return lambda r, e: (r.shape == (6, 8, 3) and r.dtype == np.float32 and 0 <= r.min() and r.max() <= 1
                         and np.allclose(r[y, x], rgb, atol=atol))


#: Every image mode and format Pillow reads (#11): load_image gives (H, W, 3) float32 in [0, 1] with the
#: right values, or a clear error (checked at a known pixel; files made by _write_formats).
RED, WHITE = (1, 0, 0), (1, 1, 1)
FORMATS = [
    Handled("images.load_image", "1-bit PNG", _load("bits.png"), lambda r, e: _pixel(0, 0, WHITE)(r, e)
            and (r[0, 1] == 0).all()),
    Handled("images.load_image", "8-bit gray (L) PNG", _load("gray51.png"), _pixel(2, 3, (0.2, 0.2, 0.2))),
    Handled("images.load_image", "gray + alpha (LA) PNG, over white", _load("la.png"), _pixel(0, 0, [1 - 128 / 255] * 3)),
    Handled("images.load_image", "palette (P) PNG", _load("palette.png"), _pixel(0, 0, RED)),
    Handled("images.load_image", "palette PNG with a transparent colour, over white", _load("palette_clear.png"),
            _pixel(0, 0, WHITE)),
    Handled("images.load_image", "palette + alpha (PA) TIFF, over white", _load("pa.tif"), _pixel(0, 0, WHITE)),
    Handled("images.load_image", "RGB PNG", _load("rgb.png"), _pixel(0, 0, np.array([10, 20, 30]) / 255)),
    Handled("images.load_image", "RGBA PNG: transparent over white, opaque as is", _load("rgba.png"),
            lambda r, e: _pixel(0, 0, WHITE)(r, e) and np.allclose(r[0, 1], RED)),
    Handled("images.load_image", "16-bit gray (I;16) PNG: divided by 65535 (was 98% white)", _load("gray16.png"),
            lambda r, e: _pixel(5, 7, WHITE)(r, e) and np.allclose(r[..., 0].ravel(), np.linspace(0, 1, 48), atol=1e-4)),
    Handled("images.load_image", "16-bit gray TIFF", _load("gray16.tif"), _pixel(0, 0, (0, 0, 0))),
    Handled("images.load_image", "16-bit big-endian gray (I;16B) TIFF", _load("gray16b.tif"),
            lambda r, e: np.allclose(r[..., 1].ravel(), np.linspace(0, 1, 48), atol=1e-4)),
    Handled("images.load_image", "32-bit integer (I) TIFF holding 16-bit values", _load("int32.tif"),
            lambda r, e: np.allclose(r[..., 2].ravel(), np.linspace(0, 1, 48), atol=1e-4)),
    raises("images.load_image", "32-bit integer (I) TIFF beyond 16 bits", _load("int32_big.tif"), "int32_big.tif",
           "mode I", "[100000, 100000]", "0..65535"),
    Handled("images.load_image", "float (F) TIFF in [0, 1]: as it is", _load("float.tif"), _pixel(1, 1, (0.25,) * 3)),
    raises("images.load_image", "float (F) TIFF beyond 1", _load("float_big.tif"), "float_big.tif", "[2, 2]", "0..1"),
    raises("images.load_image", "float (F) TIFF of NaN", _load("float_nan.tif"), "float_nan.tif", "nan", "0..1"),
    Handled("images.load_image", "16-bit RGB PNG: 8 bits per channel", _load("rgb16.png"),
            _pixel(3, 3, (128 / 255, 1, 0))),
    Handled("images.load_image", "16-bit gray + alpha PNG, over white", _load("la16.png"),
            _pixel(3, 3, [1 - 128 / 255] * 3)),
    Handled("images.load_image", "CMYK JPEG", _load("cmyk.jpg"), _pixel(2, 2, RED, atol=0.02)),
    Handled("images.load_image", "CMYK TIFF", _load("cmyk.tif"), _pixel(2, 2, RED)),
    Handled("images.load_image", "YCbCr TIFF", _load("ycbcr.tif"), _pixel(2, 2, (128 / 255,) * 3, atol=2 / 255)),
    Handled("images.load_image", "CIELAB TIFF: L* = 50 is sRGB gray 119", _load("lab.tif"),
            _pixel(2, 2, (119 / 255,) * 3, atol=2 / 255)),
    Handled("images.load_image", "animated GIF: the first frame", _load("anim.gif"), _pixel(2, 2, RED)),
    Handled("images.load_image", "animated WebP: the first frame", _load("anim.webp"), _pixel(2, 2, RED)),
    Handled("images.load_image", "multi-page TIFF: the first page", _load("pages.tif"), _pixel(2, 2, RED)),
    Handled("images.load_image", "RGB JPEG", _load("rgb.jpg"), lambda r, e: _pixel(5, 7, (0, 0, 0), atol=0.05)(r, e)),
    Handled("images.load_image", "RGB BMP", _load("rgb.bmp"), _pixel(0, 1, RED)),
    Handled("images.load_image", "RGB TIFF", _load("rgb.tif"), _pixel(0, 0, np.array([10, 20, 30]) / 255)),
    Handled("images.load_image", "lossless WebP", _load("rgb.webp"), _pixel(0, 1, RED)),
]

def _build(kind: str, linear: bool = False):
    """A fresh tiny 8x8 model of ``kind`` (layers conv_a, conv_b, gap, logits; 3 classes), seeded. With
    ``linear``, the same model (same weights) with a linear last layer, as the course scores it."""
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
              keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b"),
              keras.layers.GlobalAveragePooling2D(name="gap")]
    if kind == "Sequential with Input":
        return keras.Sequential([keras.Input((8, 8, 3)), *layers, keras.layers.Dense(3, name="logits")])
    if kind == "Sequential without Input":
        return keras.Sequential([*layers, keras.layers.Dense(3, name="logits")])
    if kind == "subclassed":
        class Subclassed(keras.Model):
            def __init__(self):
                super().__init__()
                self.stack = layers + [keras.layers.Dense(3)]

            def call(self, x):
                for layer in self.stack:
                    x = layer(x)
                return x

        model = Subclassed()
        model(np.zeros((1, 8, 8, 3), np.float32))  # built, yet it has no graph of layers
        return model
    inputs = keras.Input((8, 8, 3))
    if kind == "nested backbone":
        backbone = keras.Sequential([keras.Input((8, 8, 3)), *layers[:2]], name="backbone")
        x = layers[2](backbone(inputs))
    else:
        x = layers[2](layers[1](layers[0](inputs)))
    head = {"Dense softmax": "softmax", "Dense sigmoid": "sigmoid"}.get(kind)
    out = keras.layers.Dense(3, activation=None if linear else head, name="logits")(x)
    if kind == "Softmax layer" and not linear:
        out = keras.layers.Softmax()(out)
    if kind == "Activation softmax" and not linear:
        out = keras.layers.Activation("softmax")(out)
    model = keras.Model(inputs, out, name=kind.replace(" ", "_"))
    if linear:
        model.set_weights(_build(kind).get_weights())
    return model


#: What each method of the model-kind sweep computes on ``model``: maps, activations or a rendered image.
ON_MODEL = {
    "attribution.vanilla_saliency": lambda m, x, layer: f("attribution.vanilla_saliency")(m, x, 0),
    "cam.grad_cam": lambda m, x, layer: f("cam.grad_cam")(m, x, 0, layer),
    "activations.get_activations": lambda m, x, layer: f("activations.get_activations")(m, x, layer),
    "optimization.render": lambda m, x, layer: f("optimization.render")(
        m, f("optimization.class_logit")(0), steps=2, progress=False)[0],
}


def _on_kind(fn: str, kind: str, linear: bool = False):
    """``(result, warnings)`` of ``ON_MODEL[fn]`` on a fresh model of ``kind``."""
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    layer = "backbone/conv_b" if kind == "nested backbone" else "conv_b"
    result, said = _warned(lambda: ON_MODEL[fn](_build(kind, linear), x, layer))
    return np.asarray(result), said


def _kind_rows(fn: str) -> list:
    """One row per model kind Keras builds for the method ``fn``."""
    rows = [Handled(fn, f"{kind} model", lambda e, kind=kind: _on_kind(fn, kind),
                    lambda r, e: np.isfinite(r[0]).all() and r[0].shape[0] in (1, 2) and not r[1])
            for kind in ("functional", "Sequential with Input", "nested backbone")]
    rows += [raises(fn, "subclassed model", lambda e: _on_kind(fn, "subclassed"), "subclassed keras.Model",
                    "functional API"),
             raises(fn, "Sequential without Input (unbuilt)", lambda e: _on_kind(fn, "Sequential without Input"),
                    "without a defined input", "keras.Input(shape)")]
    for kind in ("Dense softmax", "Softmax layer", "Activation softmax", "Dense sigmoid"):
        rows.append(Handled(fn, f"{kind} output: the logits are scored, with a warning",
                            lambda e, kind=kind: (_on_kind(fn, kind), _on_kind(fn, kind, linear=True)),
                            lambda r, e, kind=kind: np.allclose(r[0][0], r[1][0], atol=1e-6) and not r[1][1]
                            and any(kind.split()[-1].lower() in w and "logits" in w for w in r[0][1])))
    return rows


#: Every model kind Keras builds (#11), for a saliency map, a Grad-CAM map, activations and a render:
#: the clear error (subclassed, unbuilt Sequential) or the result, where a softmax/sigmoid output gives
#: the same result as the same model with a linear last layer, and says so once.
MODEL_KINDS = [row for fn in ON_MODEL for row in _kind_rows(fn)] + [
    raises("base.keras_model", "a nested model whose last layer is a softmax", lambda e: f("base.keras_model")(
        _nested_softmax()), "'probabilities'", "classifier_activation=None"),
    raises("base.keras_model", "two outputs", lambda e: f("base.keras_model")(_two_outputs()), "(None, 3)",
           "one (N, classes) output"),
]


def _nested_softmax():
    import keras

    inputs = keras.Input((8, 8, 3))
    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")], name="probabilities")
    return keras.Model(inputs, inner(inputs))


def _two_outputs():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, [keras.layers.Dense(3)(x), keras.layers.Dense(3)(x)])


#: Public functions without a row, and why.
NO_BAD_INPUT = {
    "layers.layer_paths": "takes only a model",
    "layers.is_model": "takes any object and answers True or False",
    "base.WrapsModel": "a typing Protocol: a type, never called",
    "layers.conv_layers": "takes only a model",
    "layers.split_paths": "splits path strings; find_layer checks them",
    "attribution.score": "works on tensors inside a gradient tape; every caller checks the target first",
    "attribution.guided_relus": "takes only a model (its restore-on-error is tested in test_reliability.py)",
    "attribution.redirected_relus": "takes a model and a flag variable, the same swap as guided_relus (the rule is "
                                    "tested in test_optimization.py)",
    "cam.spatial_layers": "takes only a model",
    "colab.setup_cell": "formats a string",
    "data.Scenes": "a record built by FashionScenes.generate",
    "data.make_sample": "maintainer tool that rewrites data/ from the Debian package",
    "images.sample_names": "no arguments",
    "models.ModelSpec": "a record of the model registry",
    "models.CourseModel": "built by load_model (rows cover its methods)",
    "models.CourseModel.preprocess_tensor": "the unchecked, differentiable form of preprocess (used inside tapes)",
    "models.CourseModel.deprocess": "elementwise inverse of preprocess: any shape is valid",
    "base.network_available": "no user input",
    "efficientnet.blocks": "no arguments",
    "efficientnet.efficientnet_lite0": "no arguments",
    "efficientnet.imagenet_class_names": "no arguments",
    "efficientnet.weights_source": "no arguments (a missing package is an ImportError naming the pip command)",
    "base.model_cache": "any object that can be weakly referenced keys a cache",
    "base.compiled_functions": "no arguments",
    "base.capped_steps": "reads COURSE_MAX_STEPS; every caller checks its steps",
    "base.per_image_chunks": "internal batching of checked inputs (smoothgrad, integrated_gradients check them)",
    "optimization.total_variation": "no arguments",
    "runner.RunResult": "a record",
    "runner.main": "command line: argparse names the bad argument and the valid choices",
    "train.main": "command line: argparse names the bad argument and the valid choices",
    "train.layer_summary": "takes only a model",
    "dream.min_side": "takes a trunk built by trunk_model",
    "dream.tile_grid": "internal geometry of dream, which checks tile_size",
    "dream.octave_sizes": "internal geometry of dream, which checks octaves and octave_scale",
    "dream.Dreamer": "built by dreamer, which has a row",
    "dream.DreamResult": "a record",
    "dream.Dreamer.min_side": "no arguments",
    "dream.Dreamer.objective": "internal to dream, which checks the image and weights first",
    "dream.Dreamer.step": "the compiled step dream calls with checked inputs",
    "runner.RunResult.line": "formats a record",
    "embedding.Grid": "a record built by grid_cells (which has rows)",
    "embedding.Atlas": "a record built by atlas (which has a row)",
    "embedding.Atlas.mosaic": "any padding is valid",
    "train.build_fashion_vgg": "maintainer builders: num_classes is fixed by the data (Keras rejects 0 units)",
    "train.build_fashion_gap": "maintainer builders: num_classes is fixed by the data",
    "train.build_fashion_watermark": "maintainer builders: num_classes is fixed by the data (Keras rejects 0 units)",
    "train.build_fashion_colour": "maintainer builders: num_classes is fixed by the data (Keras rejects 0 units)",
    "train.build_fashion_vgg_few": "maintainer builders: num_classes is fixed by the data (Keras rejects 0 units)",
}

ROWS = BY_MODULE + DEGENERATE + NUMBERS + FORMATS + MODEL_KINDS


def public_functions() -> list[str]:
    """``"module.name"`` of every public function and class of every course_utils module, and
    ``"module.Class.method"`` of public methods."""
    out = []
    for info in pkgutil.iter_modules(course_utils.__path__):
        if info.name.startswith("_"):
            continue
        module = _m(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not callable(obj) or getattr(obj, "__module__", None) != module.__name__:
                continue
            out.append(f"{info.name}.{name}")
            if inspect.isclass(obj):
                out += [f"{info.name}.{name}.{k}" for k, v in vars(obj).items()
                        if not k.startswith("_") and inspect.isfunction(v)]
    return sorted(out)


def test_every_public_function_has_a_row():
    covered = {row.fn for row in ROWS} | set(NO_BAD_INPUT)
    missing = [name for name in public_functions() if name not in covered]
    assert not missing, (f"public functions without a bad-input row in {__file__}: {missing}. Add a row to ROWS "
                         "(or, if no input can be wrong, a reason to NO_BAD_INPUT)")


def _id(row) -> str:
    return f"{row.fn}: {row.case}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_bad_input(row, env):
    if isinstance(row, Handled):
        result = row.call(env)
        assert row.check(result, env), f"{_id(row)}: returned {result!r:.300}"
        return
    with pytest.raises(row.error) as info:
        row.call(env)
    message = str(info.value)
    for text in row.says:
        assert text in message, f"{_id(row)}: {text!r} not in the message: {message}"


def test_photo_conversion_is_said_once(tmp_path, caplog):
    from PIL import Image

    from course_utils.images import load_image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(tmp_path / "rgba.png")
    with caplog.at_level(logging.INFO, logger="course_utils.images"):
        for _ in range(3):
            load_image(tmp_path / "gray.png")
            load_image(tmp_path / "rgba.png")
    said = [r.getMessage() for r in caplog.records if r.name == "course_utils.images"]
    assert len(said) == 2 and any("gray.png" in m for m in said) and any("rgba.png" in m for m in said), said
    assert all(r.levelno >= logging.WARNING for r in caplog.records if r.name == "course_utils.images"), \
        "a conversion is said where a notebook shows it (logging's default level is WARNING)"

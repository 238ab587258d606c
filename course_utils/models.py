"""One interface to every model of the course: :func:`load_model` returns a :class:`CourseModel`.

Three tiers (see DESIGN.md):

- photo tier: ``efficientnet_lite0``, EfficientNet-Lite0 with real ImageNet weights from a pip package,
  always offline (:mod:`course_utils.efficientnet`);
- ImageNet tier: ``vgg16``, ``inception_v3``, ``mobilenet_v2``, ``resnet50`` from ``keras.applications``
  (weights cached by Keras in ``~/.keras/models``; ``python -m course_utils download-weights NAME``);
- bundled tier: ``fashion_vgg``, ``fashion_gap`` from ``data/models`` (Fashion-MNIST scenes, always there),
  and ``fashion_vgg``'s architecture trained otherwise: ``fashion_watermark`` and ``fashion_colour`` on scenes with
  a shortcut (notebooks 06, 08), ``fashion_vgg_few`` on 1,000 scenes repeated (notebook 08).

``load_model("auto")`` picks the ImageNet model when its weights are cached or the network answers
within a few seconds, else the bundled one, and says which and why. Every ``CourseModel.model``
outputs **logits** (the score the attribution methods differentiate); :meth:`CourseModel.predict`
applies the softmax.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils import MODELS_DIR
from course_utils.base import ModelLike, batch_for, check_image_values, keras_model, network_available
from course_utils.data import CLASS_NAMES as FASHION_CLASSES

_CACHE_DIR = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


@dataclass(frozen=True)
class ModelSpec:
    """What a notebook needs to know about a model besides its weights."""

    tier: str                    # "photo", "imagenet" or "bundled"
    size: int                    # input side in pixels
    preprocess: str              # "caffe" (BGR, mean-subtracted 0-255), "tf" ([-1, 1]), "lite" ((x - 127) / 128
                                 # on 0-255 RGB) or "none" ([0, 1])
    last_conv_layer: str         # for CAM / Grad-CAM
    feature_layers: tuple[str, ...]   # early -> deep, for activation grids and feature visualization
    dream_layers: dict[str, float]    # layer -> weight, for Deep Dream
    app: str = ""                # keras.applications constructor
    weights_file: str = ""       # file name in the Keras cache


SPECS: dict[str, ModelSpec] = {
    # Residual sums (_add) rather than ReLU6 outputs for features and dreams: ReLU6 caps at 6 with zero gradient above.
    "efficientnet_lite0": ModelSpec(
        "photo", 224, "lite", "top_activation",
        ("block2b_add", "block3b_add", "block4c_add", "block5c_add", "block6d_add"),
        {"block4c_add": 1.0, "block5c_add": 1.0}),
    "vgg16": ModelSpec(
        "imagenet", 224, "caffe", "block5_conv3",
        ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
        {"block4_conv3": 1.0, "block5_conv3": 1.0}, "VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    "inception_v3": ModelSpec(
        "imagenet", 299, "tf", "mixed10", ("mixed0", "mixed2", "mixed5", "mixed8", "mixed10"),
        {"mixed4": 1.0, "mixed5": 1.5, "mixed6": 2.0, "mixed7": 2.5}, "InceptionV3",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    "mobilenet_v2": ModelSpec(
        "imagenet", 224, "tf", "out_relu",
        ("expanded_conv_project", "block_3_project", "block_6_project", "block_13_project", "out_relu"),
        {"block_6_project": 1.0, "block_13_project": 1.0}, "MobileNetV2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"),
    "resnet50": ModelSpec(
        "imagenet", 224, "caffe", "conv5_block3_out",
        ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
        {"conv3_block4_out": 1.0, "conv4_block6_out": 1.0}, "ResNet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    "fashion_vgg": ModelSpec(
        "bundled", 64, "none", "block4_conv2", ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2"),
        {"block3_conv2": 1.0, "block4_conv2": 1.0}),
    "fashion_gap": ModelSpec(
        "bundled", 64, "none", "class_conv", ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2"),
        {"block3_conv2": 1.0, "block4_conv2": 1.0}),
    **{name: ModelSpec(
        "bundled", 64, "none", "block4_conv2", ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2"),
        {"block3_conv2": 1.0, "block4_conv2": 1.0})
       for name in ("fashion_watermark", "fashion_colour", "fashion_vgg_few")},  # fashion_vgg trained otherwise
}
PHOTO_MODELS = tuple(k for k, s in SPECS.items() if s.tier == "photo")
IMAGENET_MODELS = tuple(k for k, s in SPECS.items() if s.tier == "imagenet")
BUNDLED_MODELS = tuple(k for k, s in SPECS.items() if s.tier == "bundled")
#: ``load_model("auto", kind=...)``: (ImageNet choice, bundled fallback).
AUTO = {"vgg": ("vgg16", "fashion_vgg"), "gap": ("resnet50", "fashion_gap")}
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


@dataclass
class CourseModel:
    """A Keras model (logits output) plus what the notebooks need to stay model-agnostic.

    Attributes: ``name``, ``model`` (``keras.Model``, ``(N, H, W, 3) -> (N, classes)`` logits),
    ``spec`` (:class:`ModelSpec`), ``class_names``, ``reason`` (why ``auto`` chose it), ``card``
    (the bundled model card, ``{}`` for ImageNet models).
    """

    name: str
    model: Any
    spec: ModelSpec
    class_names: tuple[str, ...]
    reason: str = ""
    card: dict = field(default_factory=dict)

    @property
    def tier(self) -> str:
        return self.spec.tier

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.spec.size, self.spec.size)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def last_conv_layer(self) -> str:
        return self.spec.last_conv_layer

    @property
    def feature_layers(self) -> list[str]:
        return list(self.spec.feature_layers)

    @property
    def dream_layers(self) -> dict[str, float]:
        return dict(self.spec.dream_layers)

    @functools.cached_property
    def conv_layers(self) -> list[str]:
        """Paths of every convolution layer, input to output (nested models resolved)."""
        from course_utils.layers import conv_layers

        return conv_layers(self.model)

    def check_images(self, images) -> np.ndarray:
        """``images`` as a float32 batch ``(N, H, W, 3)`` in [0, 1] of this model's input size.

        Accepts one image ``(H, W, 3)`` or a batch, uint8 (0-255) or float (0-1). Raises ValueError
        naming the bad shape or range otherwise (use :func:`course_utils.images.resize` first).
        """
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        want = (*self.input_size, 3)
        if arr.ndim == 4 and arr.shape[0] == 0:
            raise ValueError(f"images of shape {arr.shape}: an empty batch; {self.name} expects (N, {want[0]}, "
                             f"{want[1]}, 3) with N >= 1")
        if arr.ndim != 4 or arr.shape[1:] != want:
            fix = (f"resize with course_utils.images.resize(image, {want[0]})" if arr.ndim == 4 and arr.shape[-1] == 3
                   else "convert grayscale or RGBA arrays to RGB first (course_utils.images.load_image does it for "
                        "photos)")
            raise ValueError(f"images of shape {np.shape(images)}: {self.name} expects (N, {want[0]}, "
                             f"{want[1]}, 3) or ({want[0]}, {want[1]}, 3) RGB; {fix}")
        return check_image_values(arr)

    def preprocess(self, images) -> np.ndarray:
        """Displayable ``images`` in [0, 1] -> model inputs ``x`` ``(N, H, W, 3) float32``."""
        return np.array(self.preprocess_tensor(self.check_images(images)), np.float32)

    def preprocess_tensor(self, images):
        """:meth:`preprocess` without checks, differentiable: works on numpy arrays and TF tensors
        (optimization loops preprocess inside the gradient tape)."""
        mode = self.spec.preprocess
        if mode == "caffe":
            return images[..., ::-1] * 255.0 - _CAFFE_MEAN_BGR
        if mode == "tf":
            return images * 2.0 - 1.0
        if mode == "lite":
            return images * (255.0 / 128.0) - 127.0 / 128.0
        return images

    def deprocess(self, x) -> np.ndarray:
        """Model inputs ``x`` -> displayable images in [0, 1] (clipped); inverse of :meth:`preprocess`."""
        x = np.asarray(x, np.float32)
        mode = self.spec.preprocess
        if mode == "caffe":
            x = ((x + _CAFFE_MEAN_BGR) / 255.0)[..., ::-1]
        elif mode == "tf":
            x = (x + 1.0) / 2.0
        elif mode == "lite":
            x = (x * 128.0 + 127.0) / 255.0
        return np.clip(x, 0.0, 1.0)

    def logits(self, images, batch_size: int | None = None) -> np.ndarray:
        """Class logits ``(N, classes)`` for displayable ``images``, ``batch_size`` per pass (default:
        :func:`~course_utils.base.batch_for`, 64 scenes or 5 photos). One ``predict_on_batch`` a batch, not
        ``keras.Model.predict``: the same numbers, without predict's copy of the whole input (258 photos: +256 MB
        held, 57 MB this way)."""
        x = self.preprocess(images)
        step = batch_for(x, batch_size)
        return np.concatenate([np.asarray(self.model.predict_on_batch(x[i:i + step])) for i in range(0, len(x), step)])

    def predict(self, images, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities ``(N, classes)``: the softmax of :meth:`logits`."""
        import keras

        return np.asarray(keras.ops.softmax(self.logits(images, batch_size), axis=-1))

    def decode(self, probs: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Top-``top`` ``(class name, probability)`` pairs for each row of ``probs``."""
        probs = np.asarray(probs)
        if probs.ndim != 2 or probs.shape[1] != self.num_classes:
            raise ValueError(f"probs of shape {probs.shape}: expected (N, {self.num_classes}), the output of predict")
        order = np.argsort(-probs, axis=-1)[:, :top]
        return [[(self.class_names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]

    def samples(self, n: int = 8, seed: int = 0) -> np.ndarray:
        """``n`` displayable sample inputs of the right size: held-out scenes for bundled models,
        the sample photos (repeated if needed) for ImageNet models."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n={n!r}: expected a positive number of samples")
        if self.tier == "bundled":
            from course_utils.data import FashionScenes

            return FashionScenes("test", seed=seed).generate(n).images
        from course_utils.images import load_sample, sample_names

        names = sample_names()
        return np.stack([load_sample(names[i % len(names)], self.spec.size) for i in range(n)])


def weights_path(name: str) -> Path:
    """Where Keras caches the ImageNet weights of ``name``."""
    if name not in IMAGENET_MODELS:
        raise ValueError(f"name={name!r}: expected an ImageNet model, one of {IMAGENET_MODELS}")
    return _CACHE_DIR / SPECS[name].weights_file


def _load_imagenet(name: str, weights: str | None):
    import keras

    spec = SPECS[name]
    constructor = getattr(keras.applications, spec.app)
    if weights == "imagenet" and not weights_path(name).exists() and not network_available():
        raise ConnectionError(f"{name}: ImageNet weights are not cached at {weights_path(name)} and the network "
                              f"does not answer. When online run: python -m course_utils download-weights {name}; "
                              f"offline use a bundled model: {', '.join(BUNDLED_MODELS)}.")
    cached = weights == "imagenet" and weights_path(name).exists()
    if cached:  # a truncated download: say so here, before Keras fails deep in h5py or tries to re-download it
        _check_weights_file(name)
    try:
        return constructor(weights=weights, classifier_activation=None)
    except Exception as e:  # a corrupt cached file: h5py errors, or Keras's hash check re-downloading offline
        if cached:
            raise RuntimeError(f"{name}: the cached weights {weights_path(name)} cannot be read ({e}). Delete the "
                               f"file and run: python -m course_utils download-weights {name}") from e
        raise


def _check_weights_file(name: str) -> None:
    """RuntimeError naming the cached weights file of ``name`` and the fix if it is not a complete HDF5 file."""
    import h5py

    path = weights_path(name)
    try:
        with h5py.File(path, "r"):
            pass
    except OSError as e:
        raise RuntimeError(f"{name}: the cached weights {path} are truncated or corrupt ({e}). Delete the file and "
                           f"run, when online: python -m course_utils download-weights {name}") from None


def _load_bundled(name: str):
    import keras

    path = MODELS_DIR / f"{name}.keras"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: restore it from git or rebuild it with "
                                f"python -m course_utils.train {name}")
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    return keras.saving.load_model(path, compile=False), card


def choose_auto(kind: str = "vgg") -> tuple[str, str]:
    """``(model name, reason)`` that ``load_model("auto", kind=kind)`` would pick; takes <= 5 s offline."""
    if kind not in AUTO:
        raise ValueError(f"kind={kind!r}: expected one of {sorted(AUTO)}")
    imagenet, bundled = AUTO[kind]
    if weights_path(imagenet).exists():
        return imagenet, f"its ImageNet weights are cached at {weights_path(imagenet)}"
    if network_available():
        return imagenet, "the network answers, so Keras can download its ImageNet weights"
    return bundled, (f"the ImageNet weights of {imagenet} are not cached and the network does not answer; "
                     f"to use {imagenet}, run once online: python -m course_utils download-weights {imagenet}")


def load_model(name: str = "auto", *, kind: str = "vgg", weights: str | None = "imagenet",
               verbose: bool = True) -> CourseModel:
    """Load a course model by name.

    Args:
        name: one of ``efficientnet_lite0, vgg16, inception_v3, mobilenet_v2, resnet50, fashion_vgg,
            fashion_gap, fashion_watermark, fashion_colour, fashion_vgg_few`` or ``"auto"``.
        kind: for ``"auto"``: ``"vgg"`` (vgg16 / fashion_vgg) or ``"gap"`` (resnet50 / fashion_gap).
        weights: ImageNet and photo tiers: ``"imagenet"`` or ``None`` (random init, used by the tests).
        verbose: print the one-line choice made by ``"auto"``.
    """
    reason = f"{name} was asked for by name"
    if name == "auto":
        name, reason = choose_auto(kind)
        if verbose:
            print(f"load_model('auto'): using {name} because {reason}.")
    if name not in SPECS:
        raise ValueError(f"name={name!r}: expected 'auto' or one of {sorted(SPECS)}")
    spec = SPECS[name]
    if spec.tier == "photo":
        from course_utils import efficientnet

        if weights not in ("imagenet", None):
            raise ValueError(f"weights={weights!r}: expected 'imagenet' or None")
        model = efficientnet.build_efficientnet_lite0() if weights else efficientnet.efficientnet_lite0()
        return CourseModel(name, model, spec, efficientnet.imagenet_class_names(), reason)
    if spec.tier == "bundled":
        model, card = _load_bundled(name)
        return CourseModel(name, model, spec, FASHION_CLASSES, reason, card)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights={weights!r}: expected 'imagenet' or None")
    model = _load_imagenet(name, weights)
    from course_utils.efficientnet import imagenet_class_names  # the same 1000 classes, committed in data/

    classes = imagenet_class_names()
    return CourseModel(name, model, spec, classes, reason)


def course_model(model: ModelLike) -> CourseModel:
    """``model`` as a :class:`CourseModel`: a ``CourseModel`` as it is; a ``keras.Model`` (logits or a final
    softmax/sigmoid, see :func:`course_utils.base.keras_model`) wrapped with **no preprocessing** (images in
    [0, 1] go in as they are), classes named by index, its last conv layer for CAM, up to four conv layers
    from early to deep as feature layers and its last two for Deep Dream. ValueError if it takes no square
    RGB images of a fixed size (wrap such models in a ``CourseModel`` with a ``ModelSpec`` of your own)."""
    if isinstance(model, CourseModel):
        return model
    from course_utils.layers import conv_layers

    m = keras_model(model)
    shape = tuple(m.inputs[0].shape[1:])
    if len(shape) != 3 or shape[0] is None or shape[0] != shape[1] or shape[2] != 3:
        raise ValueError(f"model {m.name!r} takes inputs of shape (N, {', '.join(map(str, shape))}): functions that "
                         "make images (render, dream, atlas) need square RGB inputs of a fixed size (N, S, S, 3); "
                         "build the model with keras.Input((S, S, 3))")
    convs = conv_layers(m)
    if not convs:
        raise ValueError(f"model {m.name!r} has no convolution layer: the course's methods look at conv layers")
    picks = list(dict.fromkeys(convs[round(k * (len(convs) - 1) / 3)] for k in range(4)))
    spec = ModelSpec("custom", int(shape[0]), "none", convs[-1], tuple(picks), {p: 1.0 for p in convs[-2:]})
    classes = tuple(f"class {k}" for k in range(m.outputs[0].shape[-1]))
    return CourseModel(m.name, m, spec, classes, "a keras.Model passed in by the caller")

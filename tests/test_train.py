import json

import numpy as np
import pytest

from course_utils import train


def test_fashion_vgg_layers_are_named_like_vgg16():
    model = train.build_fashion_vgg()
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-4:] == ["flatten", "fc1", "dropout", "predictions"]
    assert model.layers[-1].activation.__name__ == "linear" and model.output.shape[1:] == (10,)


def test_fashion_gap_is_the_cam_architecture(rng):
    model = train.build_fashion_gap()
    class_conv = model.get_layer("class_conv")
    assert class_conv.filters == 10 and class_conv.output.shape[1:] == (8, 8, 10)
    x = rng.uniform(0, 1, (2, 64, 64, 3)).astype("float32")
    import keras

    maps = keras.Model(model.input, class_conv.output)(x)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(maps).mean((1, 2)), atol=1e-5)  # logits = GAP


def test_folding_batch_norm_keeps_the_logits(rng):
    import keras

    keras.utils.set_random_seed(0)
    trained = train.build_fashion_gap(batch_norm=True)
    for layer in trained.layers:  # batch-norm statistics and scales far from their initial 0 / 1
        if layer.name.endswith("_bn"):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.2, 3, var.shape)])
    plain = train.fold_batch_norm(trained, train.build_fashion_gap())
    assert not any(layer.name.endswith("_bn") for layer in plain.layers)
    x = rng.uniform(0, 1, (4, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(plain(x)), np.asarray(trained(x, training=False)), rtol=1e-4, atol=1e-4)


def test_a_short_run_checkpoints_each_epoch_resumes_and_writes_model_and_card(tmp_path, monkeypatch):
    import keras

    fit, calls = keras.Model.fit, []

    def interrupted_fit(self, *args, **kw):  # the first run stops during its second epoch
        calls.append(kw["initial_epoch"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, *args, **kw)

    monkeypatch.setattr(keras.Model, "fit", interrupted_fit)
    kwargs = dict(epochs=2, scenes_per_epoch=128, batch_size=64, out=tmp_path, verbose=0, heldout_scenes=50,
                  batch_norm=True, validation_scenes=64)
    with pytest.raises(KeyboardInterrupt):
        train.train("fashion_gap", **kwargs)
    state = json.loads((tmp_path / "fashion_gap.checkpoint.json").read_text())
    assert len(state["history"]) == 1 and (tmp_path / "fashion_gap.checkpoint.keras").exists()
    card = train.train("fashion_gap", **kwargs)
    assert calls == [0, 1, 1]  # resumed at epoch 1, not 0
    assert card["history"][0] == state["history"][0] and len(card["history"]) == card["epochs"] == 2
    saved = json.loads((tmp_path / "fashion_gap.json").read_text())
    assert saved == card and (tmp_path / "fashion_gap.keras").exists()
    assert not list(tmp_path.glob("*.checkpoint.*"))  # a finished run leaves no checkpoint
    assert 0.0 <= card["heldout_accuracy"] <= 1.0 and card["layers"][-1]["name"] == "gap"
    assert not any(layer["name"].endswith("_bn") for layer in card["layers"])  # folded before saving
    assert card["command"].endswith("--scenes-per-epoch 128 --learning-rate 0.001 --batch-norm")


def test_unknown_model_name():
    with pytest.raises(ValueError, match="'fashion_resnet'"):
        train.train("fashion_resnet")



def test_a_fixed_scene_model_sees_the_same_scenes_every_epoch(tmp_path, monkeypatch):
    import keras

    seen = []
    monkeypatch.setattr(keras.Model, "fit", lambda self, x, y, **kw: seen.append(x.copy()) or
                        keras.callbacks.History())
    monkeypatch.setitem(train.FIXED_SCENES, "fashion_vgg_few", 40)
    monkeypatch.setattr(keras.callbacks.History, "history", {"loss": [1.0]}, raising=False)
    card = train.train("fashion_vgg_few", epochs=3, out=tmp_path, verbose=0, heldout_scenes=20, validation_scenes=8)
    assert len(seen) == 3 and seen[0].shape[0] == 40
    np.testing.assert_array_equal(seen[0], seen[2])
    assert card["data"]["train"].startswith("the same 40 FashionScenes") and "--scenes-per-epoch 40" in card["command"]

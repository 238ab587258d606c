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


def test_short_training_run_writes_model_and_card(tmp_path):
    card = train.train("fashion_gap", epochs=1, scenes_per_epoch=256, batch_size=64, out=tmp_path, verbose=0,
                       heldout_scenes=100)
    saved = json.loads((tmp_path / "fashion_gap.json").read_text())
    assert saved == card and (tmp_path / "fashion_gap.keras").exists()
    assert 0.0 <= card["heldout_accuracy"] <= 1.0 and card["epochs"] == 1 and card["layers"][-1]["name"] == "gap"
    assert "--scenes-per-epoch 256" in card["command"]


def test_unknown_model_name():
    with pytest.raises(ValueError, match="'fashion_resnet'"):
        train.train("fashion_resnet")


"""Reproduce the bundled models in ``data/models`` from real Fashion-MNIST scenes.

    python -m course_utils.train fashion_vgg      # or fashion_gap; --epochs, --seed, --out

Each run writes ``NAME.keras`` (the weights, logits output) and ``NAME.json`` (the model card:
data, seed, layers, epochs, held-out accuracy, wall time, the command). Training scenes are drawn
fresh every epoch from the Fashion-MNIST *train* split; the held-out scenes come from the *test*
split with their own seed, so no item or scene is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from course_utils import MODELS_DIR
from course_utils.data import CLASS_NAMES, FashionScenes

HELDOUT_SEED = 20_000
HELDOUT_SCENES = 2000
INPUT_SHAPE = (64, 64, 3)
WIDTHS = (12, 24, 48, 96)  # filters of block1..block4: sized for a 2-core CPU (benchmarked)


def _conv_blocks(x, widths=WIDTHS, pool_last: bool = True, batch_norm: bool = False):
    """VGG-style blocks named as in VGG16: ``block{b}_conv{1,2}`` then ``block{b}_pool``. With
    ``batch_norm`` each conv is followed by ``{conv}_bn`` and ``{conv}_relu`` (the training form;
    :func:`fold_batch_norm` turns it into the plain form)."""
    import keras

    for b, width in enumerate(widths, start=1):
        for c in (1, 2):
            name = f"block{b}_conv{c}"
            if batch_norm:
                x = keras.layers.Conv2D(width, 3, padding="same", name=name)(x)
                x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
                x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
            else:
                x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=name)(x)
        if pool_last or b < len(widths):
            x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    return x


def build_fashion_vgg(num_classes: int = 10, batch_norm: bool = False):
    """VGG-style conv blocks (64 -> 4 px), then ``flatten``, ``fc1``, ``dropout``, ``predictions``
    (logits). Layer names follow ``keras.applications.VGG16``."""
    import keras

    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = _conv_blocks(inputs, batch_norm=batch_norm)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(256, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.4, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="predictions")(x)
    return keras.Model(inputs, outputs, name="fashion_vgg")


def build_fashion_gap(num_classes: int = 10, batch_norm: bool = False):
    """All-convolutional CAM architecture (Zhou et al. 2016): conv blocks ending at 8x8, a last conv
    ``class_conv`` with one linear filter per class, then ``gap`` (global average pooling) whose
    output are the logits. The class activation map of class c is ``class_conv[..., c]``."""
    import keras

    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = _conv_blocks(inputs, pool_last=False, batch_norm=batch_norm)
    x = keras.layers.Conv2D(num_classes, 3, padding="same", name="class_conv")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, outputs, name="fashion_gap")


def _vgg_named(name: str, num_classes: int, batch_norm: bool):
    """The ``fashion_vgg`` architecture under another model name (the same layers, trained on other data)."""
    import keras

    vgg = build_fashion_vgg(num_classes, batch_norm)
    return keras.Model(vgg.input, vgg.output, name=name)


def build_fashion_watermark(num_classes: int = 10, batch_norm: bool = False):
    """The ``fashion_vgg`` architecture, trained on biased scenes: 90% of Shirt scenes carry a
    watermark (``FashionScenes(mark_class=6, mark_rate=0.9)``), no other scene does."""
    return _vgg_named("fashion_watermark", num_classes, batch_norm)


def fold_batch_norm(trained, plain):
    """Copy ``trained`` (built with ``batch_norm=True``) into ``plain`` (same builder, no batch norm),
    folding each ``{conv}_bn`` into its conv: ``W' = W * g``, ``b' = (b - mean) * g + beta`` with
    ``g = gamma / sqrt(var + eps)`` (Ioffe & Szegedy 2015, inference form). Returns ``plain``, whose
    logits equal ``trained``'s in inference mode up to float rounding."""
    names = {layer.name for layer in trained.layers}
    missing = [layer.name for layer in plain.layers if layer.name not in names]
    if missing:
        raise ValueError(f"the trained model lacks layers {missing}: expected the same builder as the plain model, "
                         "called with batch_norm=True")
    for layer in plain.layers:
        weights = trained.get_layer(layer.name).get_weights()
        if f"{layer.name}_bn" in names:
            bn = trained.get_layer(f"{layer.name}_bn")
            gamma, beta, mean, var = bn.get_weights()
            g = gamma / np.sqrt(var + bn.epsilon)
            weights = [weights[0] * g, (weights[1] - mean) * g + beta]
        layer.set_weights(weights)
    return plain


def build_fashion_colour(num_classes: int = 10, batch_norm: bool = False):
    """The ``fashion_vgg`` architecture, trained on biased scenes: 90% of Pullover items are painted red
    and no other item is red (``FashionScenes(colour_class=2, colour_rate=0.9)``)."""
    return _vgg_named("fashion_colour", num_classes, batch_norm)


def build_fashion_vgg_few(num_classes: int = 10, batch_norm: bool = False):
    """The ``fashion_vgg`` architecture, trained another way: the same 1,000 scenes in every epoch
    instead of fresh ones, so it can memorize them (overfit)."""
    return _vgg_named("fashion_vgg_few", num_classes, batch_norm)


BUILDERS = {"fashion_vgg": build_fashion_vgg, "fashion_gap": build_fashion_gap,
            "fashion_watermark": build_fashion_watermark, "fashion_colour": build_fashion_colour,
            "fashion_vgg_few": build_fashion_vgg_few}
EPOCHS = {"fashion_vgg": 12, "fashion_gap": 12, "fashion_watermark": 8, "fashion_colour": 6, "fashion_vgg_few": 80}
#: FashionScenes options of each model's training (and same-distribution held-out) scenes.
SCENE_OPTIONS = {"fashion_watermark": {"mark_class": 6, "mark_rate": 0.9},
                 "fashion_colour": {"colour_class": 2, "colour_rate": 0.9}}
#: Models trained on one fixed set of this many scenes, repeated every epoch (default: fresh scenes each epoch).
FIXED_SCENES = {"fashion_vgg_few": 1000}
SCENES_PER_EPOCH = 24_000
LEARNING_RATE = 1e-3


def evaluate(model, n: int = HELDOUT_SCENES, seed: int = HELDOUT_SEED, batch_size: int = 250,
             **scene_options) -> float:
    """Accuracy of a logits ``model`` on ``n`` held-out scenes (Fashion-MNIST test items), drawn with
    :class:`FashionScenes` ``scene_options`` (e.g. ``mark_class``)."""
    scenes = FashionScenes("test", seed=seed, **scene_options).generate(n)
    logits = model.predict(scenes.images, batch_size=batch_size, verbose=0)
    return float(np.mean(logits.argmax(-1) == scenes.label))


def layer_summary(model) -> list[dict]:
    """``[{"name", "type", "output_shape", "params"}]`` for a model card."""
    return [{"name": layer.name, "type": type(layer).__name__,
             "output_shape": list(layer.output.shape[1:]), "params": int(layer.count_params())}
            for layer in model.layers]


def train(name: str, epochs: int | None = None, seed: int = 0, scenes_per_epoch: int | None = None,
          batch_size: int = 128, out: Path = MODELS_DIR, verbose: int = 2,
          heldout_scenes: int = HELDOUT_SCENES, learning_rate: float = LEARNING_RATE,
          batch_norm: bool = False, validation_scenes: int = 1000) -> dict:
    """Train bundled model ``name`` from scratch, save it to ``out`` and return its model card.

    After each epoch the model, its optimizer state and the history so far are saved to
    ``out/NAME.checkpoint.keras`` and ``out/NAME.checkpoint.json``; a run with the same arguments
    resumes from there (the epochs' scenes come from fixed seeds) and deletes both when it is done.
    With ``batch_norm`` the convs train with batch normalization, folded into them before saving
    (:func:`fold_batch_norm`), so the saved model has the plain architecture. Each epoch is validated on
    ``validation_scenes`` scenes of *train* items (another seed), the card's ``val_accuracy``. Models in
    :data:`FIXED_SCENES` see the same scenes (seed ``seed * 1000``) in every epoch."""
    if name not in BUILDERS:
        raise ValueError(f"name={name!r}: expected one of {sorted(BUILDERS)}")
    import keras

    epochs = epochs or EPOCHS[name]
    fixed = name in FIXED_SCENES
    scenes_per_epoch = scenes_per_epoch or FIXED_SCENES.get(name, SCENES_PER_EPOCH)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    command = (f"python -m course_utils.train {name} --epochs {epochs} --seed {seed} "
               f"--scenes-per-epoch {scenes_per_epoch} --learning-rate {learning_rate}"
               + (" --batch-norm" if batch_norm else ""))
    checkpoint, log = out / f"{name}.checkpoint.keras", out / f"{name}.checkpoint.json"
    state = json.loads(log.read_text()) if checkpoint.exists() and log.exists() else {}
    history, wall_before = [], 0.0
    if state.get("command") == command:
        history, wall_before = state["history"], state["wall_s"]
        model = keras.models.load_model(checkpoint)
        keras.utils.set_random_seed(seed + len(history))
    else:
        keras.utils.set_random_seed(seed)
        model = BUILDERS[name](batch_norm=batch_norm)
        steps = epochs * -(-scenes_per_epoch // batch_size)  # batches per epoch, the last one partial
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    options = SCENE_OPTIONS.get(name, {})
    scenes = FashionScenes("train", seed=seed, **options)
    val = FashionScenes("train", seed=seed + 10_000, **options).generate(validation_scenes)
    start = time.time()
    with ThreadPoolExecutor(1) as pool:  # render the next epoch's scenes while this one trains
        upcoming = pool.submit(scenes.generate, scenes_per_epoch, seed * 1000 + (0 if fixed else len(history)))
        for epoch in range(len(history), epochs):
            batch = upcoming.result()
            if epoch + 1 < epochs and not fixed:
                upcoming = pool.submit(scenes.generate, scenes_per_epoch, seed * 1000 + epoch + 1)
            h = model.fit(batch.images, batch.label, batch_size=batch_size, epochs=epoch + 1, initial_epoch=epoch,
                          validation_data=(val.images, val.label), verbose=verbose)
            history.append({k: round(float(v[-1]), 4) for k, v in h.history.items()})
            model.save(checkpoint)
            log.write_text(json.dumps({"command": command, "history": history,
                                       "wall_s": round(wall_before + time.time() - start, 1)}, indent=1) + "\n")
    wall = wall_before + time.time() - start
    bare = BUILDERS[name]()  # plain and uncompiled: the file holds weights, not Adam's moments
    if batch_norm:
        fold_batch_norm(model, bare)
    else:
        bare.set_weights(model.get_weights())
    accuracy = evaluate(bare, n=heldout_scenes, **options)
    bare.save(out / f"{name}.keras")
    card = {
        "name": name,
        "description": " ".join(BUILDERS[name].__doc__.split("\n\n")[0].split()),
        "task": "10-class Fashion-MNIST item classification in 64x64 RGB FashionScenes (one item per scene)",
        "scene_options": options,
        "classes": list(CLASS_NAMES),
        "input": {"shape": list(INPUT_SHAPE), "range": [0.0, 1.0], "preprocess": "none (RGB in [0, 1])"},
        "output": "logits (apply softmax for probabilities)",
        "data": {"train": (f"the same {scenes_per_epoch} FashionScenes of Fashion-MNIST train items (seed "
                           f"{seed * 1000}) in each of {epochs} epochs" if fixed else
                           f"{epochs} x {scenes_per_epoch} FashionScenes of Fashion-MNIST train items, "
                           f"seeds {seed * 1000}..{seed * 1000 + epochs - 1}"),
                 "heldout": f"{heldout_scenes} FashionScenes of Fashion-MNIST test items, seed {HELDOUT_SEED}"},
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": f"Adam, cosine-decayed learning rate from {learning_rate}",
        "batch_norm": ("trained with batch normalization after each conv, folded into the conv weights"
                       if batch_norm else "none"),
        "heldout_accuracy": round(accuracy, 4),
        **({f"heldout_accuracy_without_{'marks' if 'mark_class' in options else 'colour_cue'}":
            round(evaluate(bare, n=heldout_scenes), 4)} if options else {}),
        "history": history,
        "params": int(bare.count_params()),
        "layers": layer_summary(bare),
        "training_wall_time_s": round(wall, 1),
        "trained_on": f"{platform.machine()}, {os.cpu_count()} CPU cores, keras {keras.__version__}",
        "command": command,
        "licence": "weights: same licence as this repository; data: Fashion-MNIST, MIT licence",
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    checkpoint.unlink(missing_ok=True)
    log.unlink(missing_ok=True)
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(BUILDERS))
    parser.add_argument("--epochs", type=int, default=None, help="default: %s" % EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes-per-epoch", type=int, default=None,
                        help=f"default: {SCENES_PER_EPOCH}, or the fixed set's size {FIXED_SCENES}")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--batch-norm", action="store_true",
                        help="train with batch normalization after each conv, folded into the convs before saving "
                             "(not yet used for the bundled models)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    card = train(args.name, args.epochs, args.seed, args.scenes_per_epoch, out=args.out,
                 learning_rate=args.learning_rate, batch_norm=args.batch_norm)
    print(f"{card['name']}: held-out accuracy {card['heldout_accuracy']:.4f} "
          f"after {card['epochs']} epochs, {card['training_wall_time_s']:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()

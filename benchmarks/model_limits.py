"""What limits the bundled models' accuracy: ``python -m benchmarks.model_limits`` writes docs/models.md
and docs/model_curves.png.

Everything is measured on freshly generated held-out scenes (Fashion-MNIST *test* items, the cards'
held-out seed): learning curves from the model cards, accuracy per class with 95% bootstrap intervals,
and accuracy with one property of the scenes changed at a time (plain background, untinted grey
items, largest item size), so each number says how much that property costs. About 1 minute on 2 CPU
cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from course_utils import MODELS_DIR
from course_utils.data import CLASS_NAMES, FashionScenes
from course_utils.metrics import mean_interval
from course_utils.models import load_model
from course_utils.train import HELDOUT_SCENES, HELDOUT_SEED

MODELS = ("fashion_vgg", "fashion_gap")
#: One change to the held-out scenes at a time (FashionScenes options); "as trained" first.
VARIANTS = {"as trained": {}, "plain grey background": {"background": "plain"},
            "largest items only (44 px)": {"scale": (44, 44)}, "smallest items only (28 px)": {"scale": (28, 28)}}


def _hits(cm, **options) -> tuple[np.ndarray, np.ndarray]:
    scenes = FashionScenes("test", seed=HELDOUT_SEED, **options).generate(HELDOUT_SCENES)
    predicted = cm.model.predict(cm.preprocess(scenes.images), batch_size=250, verbose=0).argmax(-1)
    return predicted == scenes.label, scenes.label


def _interval(hits) -> str:
    mean, low, high = mean_interval(hits.astype(float))
    return f"{mean:.1%} [{low:.1%}, {high:.1%}]"


def _reading(gaps: dict, hits: dict, labels: np.ndarray) -> list[str]:
    """Sentences read off the measurements (so they change when the models do)."""
    lines = ["## Reading", ""]
    lines.append("- At the last epoch, training and validation accuracy differ by "
                 + ", ".join(f"{g * 100:+.1f} points ({name})" for name, g in gaps.items())
                 + ": the models underfit. Every epoch draws fresh scenes, so there is nothing to memorize; more "
                 "steps or more capacity, not more data, is what would raise them.")
    for name in MODELS:
        base = hits[name, "as trained"]
        per_class = [base[labels == c].mean() for c in range(len(CLASS_NAMES))]
        worst = np.argsort(per_class)[:2]
        fixed = np.where(labels == worst[0], True, base).mean()
        changes = ", ".join(f"{variant} {(hits[name, variant].mean() - base.mean()) * 100:+.1f}"
                            for variant in VARIANTS if variant != "as trained")
        lines.append(f"- `{name}`: weakest classes {CLASS_NAMES[worst[0]]} ({per_class[worst[0]]:.0%}) and "
                     f"{CLASS_NAMES[worst[1]]} ({per_class[worst[1]]:.0%}); with every {CLASS_NAMES[worst[0]]} right, "
                     f"accuracy would be {fixed:.1%}. Changing the scenes (points): {changes}.")
    return lines + [""]


def curves(out: Path) -> None:
    """Held-out (validation) and training accuracy per epoch from every bundled model card."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, name in enumerate((*MODELS, "fashion_watermark")):
        history = json.loads((MODELS_DIR / f"{name}.json").read_text())["history"]
        epochs = np.arange(1, len(history) + 1)
        colour = plt.get_cmap("tab10")(k)
        ax.plot(epochs, [h["val_accuracy"] for h in history], "-o", color=colour, label=f"{name}: validation")
        ax.plot(epochs, [h["accuracy"] for h in history], "--", color=colour, label=f"{name}: training")
    ax.axhline(0.9, color="0.5", lw=1, ls=":")
    ax.text(1, 0.905, "the 90% we aim for", color="0.4", fontsize=11)
    ax.set_xlabel("epoch (24,000 fresh scenes each; learning rate cosine-decayed to 0)", fontsize=12)
    ax.set_ylabel("accuracy", fontsize=12)
    ax.set_ylim(0.2, 1.0)
    ax.legend(fontsize=9, loc="lower right", ncol=2)
    ax.set_title("Bundled models: learning curves from their cards", fontsize=13)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def report(out_dir: Path) -> str:
    lines = ["# What limits the bundled models", "",
             "Written by `python -m benchmarks.model_limits` (docs/model_curves.png and this page). Held-out scenes: "
             f"{HELDOUT_SCENES} FashionScenes of Fashion-MNIST *test* items, seed {HELDOUT_SEED}; intervals are 95% "
             "bootstrap intervals over the scenes (`metrics.mean_interval`).", "",
             "![learning curves](model_curves.png)", ""]
    curves(out_dir / "model_curves.png")
    per_class, variants, all_hits = {}, {}, {}
    for name in MODELS:
        cm = load_model(name)
        for variant, options in VARIANTS.items():
            hits, labels = _hits(cm, **options)
            all_hits[name, variant] = hits
            variants[name, variant] = _interval(hits)
            if variant == "as trained":
                per_class[name] = [_interval(hits[labels == c]) for c in range(len(CLASS_NAMES))]
                held_labels = labels
    gaps = {}
    for name in (*MODELS, "fashion_watermark"):
        last = json.loads((MODELS_DIR / f"{name}.json").read_text())["history"][-1]
        gaps[name] = last["accuracy"] - last["val_accuracy"]
    lines += _reading(gaps, all_hits, held_labels)
    lines += ["## Accuracy when one property of the scenes changes", "",
              "| scenes | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    lines += [f"| {variant} | " + " | ".join(variants[m, variant] for m in MODELS) + " |" for variant in VARIANTS]
    lines += ["", "## Accuracy per class (scenes as trained)", "",
              "| class | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    lines += [f"| {c} | " + " | ".join(per_class[m][k] for m in MODELS) + " |" for k, c in enumerate(CLASS_NAMES)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_limits", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(args.out)
    (args.out / "models.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Benchmarks that are measured, not asserted in unit tests.

    python -m course_utils.bench widgets     # latency of one widget interaction, bundled model

Each interaction sets one control of an explorer (exactly what a slider move does) and times until
its figure is rendered to PNG; the first draw (which builds and traces sub-models) is excluded and
reported separately. Every control is moved ``repeats`` times to new values; the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def _time(setter) -> float:
    start = time.perf_counter()
    setter()
    return time.perf_counter() - start


def widget_latency(model: str = "fashion_vgg", repeats: int = 5) -> list[tuple[str, str, float, float]]:
    """``[(explorer, control, first draw s, median interaction s)]`` for every explorer and control."""
    import numpy as np

    from course_utils import widgets
    from course_utils.models import load_model

    cm = load_model(model, verbose=False)
    images = cm.samples(8)
    rows = []
    explorers = {
        "activation_explorer": lambda: widgets.activation_explorer(cm, images),
        "saliency_explorer": lambda: widgets.saliency_explorer(cm, images),
        "feature_explorer": lambda: widgets.feature_explorer(cm),
        "inversion_explorer": lambda: widgets.inversion_explorer(cm, images[0]),
    }
    for name, make in explorers.items():
        first = _time(make)
        box = make()
        controls = [w for row in box.children[:-1] for w in (row.children if hasattr(row, "children") else [row])]
        for control in controls:
            times = []
            for k in range(repeats):
                if hasattr(control, "options"):
                    options = [o[1] if isinstance(o, tuple) else o for o in control.options]
                    value = options[(options.index(control.value) + 1 + k) % len(options)]
                elif isinstance(control.value, bool):
                    value = not control.value
                else:
                    value = type(control.value)(np.clip(control.value + control.step * (k + 1), control.min, control.max))
                    if value == control.value:
                        value = control.min
                times.append(_time(lambda: setattr(control, "value", value)))
            rows.append((name, control.description, first, statistics.median(times)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["widgets"])
    parser.add_argument("--model", default="fashion_vgg")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"| explorer | control | first draw (s) | median interaction (s) |\n|---|---|---|---|")
    for name, control, first, median in widget_latency(args.model, args.repeats):
        print(f"| {name} | {control} | {first:.2f} | {median:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks that are measured, not asserted in unit tests.

    python -m course_utils.bench widgets     # latency of one widget interaction, bundled model
    python -m course_utils.bench leaks       # memory growth and tf.function retracing over 100 slider moves

Each interaction sets one control of an explorer (exactly what a slider move does) and times until
its figure is rendered to PNG; the first draw (which builds and traces sub-models) is excluded and
reported separately. Every control is moved ``repeats`` times to new values; the median is reported.

``leaks`` moves the layer, channel and class controls of the explorers in turn, as a lecturer would
for a whole lecture, and reports how much the process's resident memory grew after a warm-up and
whether any tf.function was traced again (the "triggered tf.function retracing" warning).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from course_utils.models import CourseModel


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


def _moves(cm, steps: int | None, explorers: Sequence[str] | None = None) -> list[tuple[str, object]]:
    """``[(label, control)]``: the layer, channel and class controls of the chosen explorers."""
    from course_utils import widgets

    images = cm.samples(4)
    makers = {"activation_explorer": lambda: widgets.activation_explorer(cm, images),
              "saliency_explorer": lambda: widgets.saliency_explorer(cm, images, methods=["vanilla"]),
              "feature_explorer": lambda: widgets.feature_explorer(cm, **({} if steps is None else {"steps": steps}))}
    if hasattr(widgets, "cam_explorer"):  # notebook 06's explorer, where it exists
        makers["cam_explorer"] = lambda: widgets.cam_explorer(cm, images)
    unknown = sorted(set(explorers or ()) - set(makers))
    if unknown:
        raise ValueError(f"explorers {unknown}: expected some of {sorted(makers)}")
    moves = []
    for name in explorers or makers:
        box = makers[name]()
        controls = [w for row in box.children[:-1] for w in (row.children if hasattr(row, "children") else [row])]
        moves += [(f"{name}.{w.description}", w) for w in controls if w.description in ("layer", "channel", "class")]
    return moves


def _next_value(control, k: int):
    if hasattr(control, "options"):
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return options[(options.index(control.value) + 1) % len(options)]
    return control.min + (control.value - control.min + 1 + k % 3) % (control.max - control.min + 1)


def _traces() -> int:
    """Traces so far of the tf.functions the library caches per model (gradients, CAM)."""
    import importlib

    total = 0
    for module, attr in (("course_utils.attribution", "_GRAD_FNS"), ("course_utils.cam", "_FNS")):
        try:
            cache = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        for value in list(cache.values()):
            for fn in (value.values() if isinstance(value, dict) else [value]):
                total += fn.experimental_get_tracing_count()
    return total


def leaks(model: str | CourseModel = "fashion_vgg", calls: int = 100, warmup: int = 40, steps: int | None = None,
          explorers: Sequence[str] | None = None) -> dict:
    """Move the layer, channel and class controls of the explorers in turn, ``warmup`` times and then
    ``calls`` times, exactly as slider moves do (setting ``control.value``).

    Args:
        model: a model name for :func:`~course_utils.models.load_model`, or a ``CourseModel``.
        steps: optimization steps of :func:`~course_utils.widgets.feature_explorer` (default: its own).
        explorers: names of the explorers to use (default: all of ``course_utils.widgets``' explorers
            that have a layer, channel or class control).
    Returns: ``{"calls", "rss_before_mb", "rss_after_mb", "growth_mb", "retracing_warnings" (list of
    messages), "traces_after_warmup", "median_call_s", "controls"}``; memory is this process's resident
    set after ``gc.collect()``.
    """
    import gc
    import logging

    import psutil

    from course_utils.models import load_model

    cm = load_model(model, verbose=False) if isinstance(model, str) else model
    warnings: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            if "retracing" in record.getMessage():
                warnings.append(record.getMessage()[:200])

    catcher = Catch(logging.WARNING)
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addHandler(catcher)
    try:
        moves = _moves(cm, steps, explorers)
        if not moves:
            raise ValueError(f"no layer, channel or class control found in the explorers of {cm.name!r}")

        def move(k: int) -> float:
            _, control = moves[k % len(moves)]
            return _time(lambda: setattr(control, "value", _next_value(control, k)))

        for k in range(warmup):
            move(k)
        gc.collect()
        process = psutil.Process()
        before, traced = process.memory_info().rss, _traces()
        warnings.clear()  # only what happens after the warm-up counts
        times = [move(warmup + k) for k in range(calls)]
        gc.collect()
        after = process.memory_info().rss
    finally:
        tf_logger.removeHandler(catcher)
    return {"calls": calls, "rss_before_mb": before / 2**20, "rss_after_mb": after / 2**20,
            "growth_mb": (after - before) / 2**20, "retracing_warnings": warnings,
            "traces_after_warmup": _traces() - traced, "median_call_s": statistics.median(times),
            "controls": [label for label, _ in moves]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["widgets", "leaks"])
    parser.add_argument("--model", default="fashion_vgg")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100, help="leaks: slider moves measured after the warm-up")
    args = parser.parse_args(argv)
    if args.what == "leaks":
        r = leaks(args.model, args.calls)
        print(f"{r['calls']} moves of {', '.join(r['controls'])} ({r['median_call_s']:.2f} s median):\n"
              f"resident memory {r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB ({r['growth_mb']:+.1f} MB), "
              f"{len(r['retracing_warnings'])} retracing warnings, {r['traces_after_warmup']} tf.function traces "
              "after the warm-up")
        for message in r["retracing_warnings"]:
            print("  ", message)
        return 0
    print(f"| explorer | control | first draw (s) | median interaction (s) |\n|---|---|---|---|")
    for name, control, first, median in widget_latency(args.model, args.repeats):
        print(f"| {name} | {control} | {first:.2f} | {median:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

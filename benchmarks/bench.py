"""Benchmarks that are measured, not asserted in unit tests.

    python -m benchmarks.bench widgets     # latency of one widget interaction, bundled model
    python -m benchmarks.bench leaks       # memory growth and tf.function retracing over 100 slider moves
    python -m benchmarks.bench report      # all of it, side by side with tf-keras-vis -> docs/benchmarks.md

Each interaction sets one control of an explorer (exactly what a slider move does) and times until
its figure is rendered to JPEG; the first draw (which builds and traces sub-models) is excluded and
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
    import numpy as np

    from course_utils.models import CourseModel


def _time(setter) -> float:
    start = time.perf_counter()
    setter()
    return time.perf_counter() - start


def _move(box, control, value) -> tuple[float, float]:
    """Seconds from setting ``control`` to ``value`` until the explorer's first new figure, and until its last
    (an explorer that refines a map shows a first one before it is done)."""
    shown = []

    def stamp(_):
        shown.append(time.perf_counter())

    box.figure.observe(stamp, names="value")
    start = time.perf_counter()
    control.value = value
    end = time.perf_counter()
    box.figure.unobserve(stamp, names="value")
    return (shown[0] if shown else end) - start, end - start


def widget_latency(model: str = "fashion_vgg", repeats: int = 5, explorers: Sequence[str] | None = None
                   ) -> list[tuple[str, str, float, float, float]]:
    """``[(explorer, control, first draw s, median s to the first figure, median s to the last)]`` for every
    control of ``explorers`` (default: all of them)."""
    from course_utils import widgets
    from course_utils.data import FashionScenes
    from course_utils.models import load_model

    cm = load_model(model, verbose=False)
    images = cm.samples(8)
    many = FashionScenes("test", seed=3).generate(300)  # the embedding explorer's point cloud (bundled models)
    rows = []
    makers = {
        "activation_explorer": lambda: widgets.activation_explorer(cm, images),
        "saliency_explorer": lambda: widgets.saliency_explorer(cm, images),
        "feature_explorer": lambda: widgets.feature_explorer(cm),
        "inversion_explorer": lambda: widgets.inversion_explorer(cm, images[0]),
        "dream_explorer": lambda: widgets.dream_explorer(cm, images[:4]),
        "cam_explorer": lambda: widgets.cam_explorer(cm, images),
        "embedding_explorer (300 scenes)": lambda: widgets.embedding_explorer(cm, many.images, many.label,
                                                                              methods=("tsne", "pca")),
        **({"cue_explorer (200 scenes)": lambda: widgets.cue_explorer([cm])} if cm.tier == "bundled" else {}),
    }
    makers = {k: v for k, v in makers.items() if explorers is None or k in explorers}
    for name, make in makers.items():
        first = _time(make)
        box = make()
        for label, control in box.controls.items():
            times, start = [], control.value
            for k in range(repeats):
                times.append(_move(box, control, _next_value(control, k)))
            control.value = start  # the next control is measured from the explorer's first state
            rows.append((name, label, first, *(statistics.median(t) for t in zip(*times))))
    return rows


def _moves(cm, steps: int | None, explorers: Sequence[str] | None = None) -> list[tuple[str, object]]:
    """``[(label, control)]``: the layer, channel and class controls of the chosen explorers."""
    from course_utils import widgets

    images = cm.samples(4)
    makers = {"activation_explorer": lambda: widgets.activation_explorer(cm, images),
              "saliency_explorer": lambda: widgets.saliency_explorer(cm, images, methods=["vanilla"]),
              "feature_explorer": lambda: widgets.feature_explorer(cm, **({} if steps is None else {"steps": steps}))}
    makers["cam_explorer"] = lambda: widgets.cam_explorer(cm, images)
    unknown = sorted(set(explorers or ()) - set(makers))
    if unknown:
        raise ValueError(f"explorers {unknown}: expected some of {sorted(makers)}")
    moves = []
    for name in explorers or makers:
        box = makers[name]()
        moves += [(f"{name}.{key}", w) for key, w in box.controls.items() if key in ("layer", "channel", "class")]
    return moves


def _controls(box) -> list:
    """The controls of an explorer (``box.controls``, the scaffold every explorer shares)."""
    return list(box.controls.values())


def _next_value(control, k: int):
    """A new value for ``control``, as a user would set it: the next option, the other boolean, or
    ``1 + k % 3`` steps on (back to the minimum past the maximum)."""
    if hasattr(control, "options"):
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return options[(options.index(control.value) + 1) % len(options)]
    if isinstance(control.value, bool):
        return not control.value
    value = control.value + control.step * (1 + k % 3)
    return type(control.value)(value if value <= control.max else control.min)


def _traces() -> int:
    """Traces so far of the tf.functions the library caches per model (gradients, CAM, ...)."""
    from course_utils.base import compiled_functions

    return sum(fn.experimental_get_tracing_count() for fn in compiled_functions())


def leaks(model: str | CourseModel = "fashion_vgg", calls: int = 100, warmup: int = 40, steps: int | None = None,
          explorers: Sequence[str] | None = None) -> dict:
    """Move the layer, channel and class controls of the explorers in turn, ``warmup`` times and then
    ``calls`` times, exactly as slider moves do (setting ``control.value``).

    Args:
        model: a model name for :func:`~course_utils.models.load_model`, or a ``CourseModel``.
        steps: optimization steps of :func:`~course_utils.widgets.feature_explorer` (default: its own).
        explorers: names of the explorers to use (default: all of ``course_utils.widgets``' explorers
            that have a layer, channel or class control).
    Returns: ``{"calls", "warmup", "rss_before_mb", "rss_after_mb", "growth_mb", "retracing_warnings" (list of
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
    return {"calls": calls, "warmup": warmup, "rss_before_mb": before / 2**20, "rss_after_mb": after / 2**20,
            "growth_mb": (after - before) / 2**20, "retracing_warnings": warnings,
            "traces_after_warmup": _traces() - traced, "median_call_s": statistics.median(times),
            "controls": [label for label, _ in moves]}


# ---- issue #5: side by side with tf-keras-vis, distance to the floor, course cost, ImageNet tier -------------

def _race(fns: dict, repeats: int = 3) -> dict:
    """Fastest wall time (s) of each ``fns[name]()`` over ``repeats`` rounds, after one warm-up call each.
    The calls are interleaved round by round, so load from other processes hits every entry alike; the
    minimum is the least noisy estimate of the cost on a shared machine (as ``timeit`` recommends). Cheap
    calls get more rounds (up to 25, about 2 s in all), so a few-ms call is not judged on 3 samples."""
    warm = sum(_time(fn) for fn in fns.values())
    best = {name: float("inf") for name in fns}
    for _ in range(max(repeats, min(25, int(2.0 / max(warm, 1e-6))))):
        for name, fn in fns.items():
            best[name] = min(best[name], _time(fn))
    return best


def pearson_per_image(a, b) -> "np.ndarray":
    """Pearson r of each pair of maps ``(N, H, W)``; two constant maps count as r = 1, one as r = 0."""
    import numpy as np

    a, b = (np.asarray(m, np.float64).reshape(len(m), -1) for m in (a, b))
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    r = (a * b).sum(1) / np.maximum(na * nb, 1e-300)
    return np.where((na == 0) & (nb == 0), 1.0, np.where((na == 0) | (nb == 0), 0.0, r))


def _tkv_noise(z_nsc: "np.ndarray"):
    """A stand-in for ``np.random.normal(0, sigma, (S, N, ...))`` returning ``sigma * z`` for our own
    standard-normal draws ``z`` ``(N, S, ...)``: tf-keras-vis then adds exactly our SmoothGrad noise."""
    import numpy as np

    def normal(loc, scale, size):
        return loc + np.asarray(scale) * np.swapaxes(z_nsc, 0, 1).reshape(size)
    return normal


def _our_noise(x, samples: int, seed: int, batch_size: int = 128) -> "np.ndarray":
    """The standard-normal draws ``(N, S, H, W, C)`` that ``attribution.smoothgrad`` makes for ``x``."""
    import numpy as np

    from course_utils.base import per_image_chunks

    rng = np.random.default_rng(seed)
    return np.concatenate([rng.standard_normal((len(x[p]), samples, *x.shape[1:]), np.float32)
                           for p in per_image_chunks(x, samples, batch_size)])


def _gradcam_pp_tkv_convention(acts, g) -> "np.ndarray":
    """Grad-CAM++ as tf-keras-vis (and the authors' released code) computes it: eq. 19's alphas divided by
    their spatial sum per channel, then ``ReLU(sum_k w_k A_k)`` ``(N, h, w)``."""
    import numpy as np

    g2 = g * g
    denom = 2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g2 * g
    alpha = g2 / (denom + (g2 == 0))
    total = alpha.sum(axis=(1, 2), keepdims=True)
    alpha = alpha / (total + (total == 0))
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2), keepdims=True)
    return np.maximum((weights * acts).sum(-1), 0)


def _floor(model):
    """One compiled forward+backward pass of ``model``: ``(x, classes) -> d logit / d x`` (the floor any
    gradient method pays)."""
    import tensorflow as tf

    @tf.function
    def gradient(x, target):
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.gather(model(x, training=False), target, axis=1, batch_dims=1)
        return tape.gradient(s, x)

    return gradient


def _scorecam_tkv_masks(model, x, target, layer) -> "np.ndarray":
    """Our Score-CAM ``(N, h, w)`` (weights: the softmax probability of the target on the input times each map
    scaled to [0, 1]) with the maps resized as tf-keras-vis resizes them, ``scipy.ndimage.zoom(order=1,
    mode="nearest")``, instead of ``tf.image.resize``."""
    import numpy as np
    from scipy.ndimage import zoom
    from scipy.special import softmax

    from course_utils.activations import get_activations

    acts = get_activations(model, x, layer)
    maps = []
    for i in range(len(x)):
        a = acts[i]
        m = zoom(a, (x.shape[1] / a.shape[0], x.shape[2] / a.shape[1], 1), order=1, mode="nearest")
        m = (m - m.min((0, 1))) / (m.max((0, 1)) - m.min((0, 1)) + 1e-7)
        logits = model.predict(x[i] * np.moveaxis(m, -1, 0)[..., None], verbose=0)
        maps.append(np.maximum(a @ softmax(logits, axis=-1)[:, target[i]], 0))
    return np.stack(maps)


def compare_tkv(model: str = "fashion_vgg", batches: Sequence[int] = (1, 32), samples: int = 20, noise: float = 0.15,
                repeats: int = 3, seed: int = 0) -> list[dict]:
    """Agreement (per-image Pearson r after min-max normalizing both) and speed of our methods against
    tf-keras-vis 0.8.7 on the same weights, the same held-out scenes (``samples(n, seed)``), the same targets
    (predicted classes, ``CategoricalScore`` on the logits) and settings. One dict per (method, batch):
    ``method, batch, r_min, r_median, ours_s, theirs_s, ratio, floor_s, floor_x, note``."""
    import numpy as np
    import tensorflow as tf
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    from course_utils import attribution, cam
    from course_utils.base import normalize_maps
    from course_utils.models import load_model

    cm = load_model(model, verbose=False)
    m, layer = cm.model, cm.last_conv_layer
    rows = []
    for n in batches:
        x = cm.preprocess(cm.samples(n, seed=seed))
        target = np.argmax(m.predict(x, verbose=0), -1)
        score = CategoricalScore(list(target))
        xt, tt = tf.constant(x), tf.constant(target.astype(np.int64))
        floor = _floor(m)
        floor_fn = lambda: floor(xt, tt).numpy()  # noqa: E731
        sal, gc, gcpp = Saliency(m, clone=False), Gradcam(m, clone=False), GradcamPlusPlus(m, clone=False)
        lc, sc = Layercam(m, clone=False), Scorecam(m, clone=False)
        z = _our_noise(x, samples, seed)
        ours_sg = attribution.smoothgrad(m, x, target, samples, noise, seed, return_grads=True)
        real_normal = np.random.normal
        np.random.normal = _tkv_noise(z)
        try:
            theirs_sg = sal(score, x, smooth_samples=samples, smooth_noise=noise, gradient_modifier=None,
                            keepdims=True, normalize_map=False)
            theirs_sg_default = sal(score, x, smooth_samples=samples, smooth_noise=noise, normalize_map=False)
        finally:
            np.random.normal = real_normal
        acts, g = cam.layer_gradients(m, x, target, layer)
        cases = {
            "vanilla saliency": (
                lambda: attribution.vanilla_saliency(m, x, target),
                lambda: sal(score, x, normalize_map=False),
                "max over channels of |grad| in both"),
            "SmoothGrad (same noise draws)": (
                lambda: attribution.smoothgrad(m, x, target, samples, noise, seed),
                lambda: sal(score, x, smooth_samples=samples, smooth_noise=noise, normalize_map=False),
                f"{samples} samples, noise {noise}; agreement with theirs averaging signed gradients "
                "(gradient_modifier=None), as ours does"),
            "Grad-CAM (layer resolution)": (
                lambda: cam.grad_cam(m, x, target, layer, upsample=False, normalize=False),
                lambda: gc(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                f"layer {layer}"),
            "Grad-CAM++ (layer resolution)": (
                lambda: cam.grad_cam_plus_plus(m, x, target, layer, upsample=False, normalize=False),
                lambda: gcpp(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                "convention differs, see below"),
            "LayerCAM (layer resolution)": (
                lambda: cam.layer_cam(m, x, target, layer, upsample=False, normalize=False),
                lambda: lc(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                f"layer {layer}"),
            "Score-CAM (layer resolution)": (
                lambda: cam.score_cam(m, x, target, layer, upsample=False, normalize=False),
                lambda: sc(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                f"one forward pass per map of {layer} ({m.get_layer(layer).output.shape[-1]}); masks resized by "
                "tf.image.resize (ours) and scipy zoom (theirs); floor: one gradient pass"),
        }
        agree = {
            "vanilla saliency": None,
            "SmoothGrad (same noise draws)": (attribution.to_map(ours_sg), normalize_maps(np.abs(theirs_sg).max(-1))),
        }
        for method, (ours, theirs, note) in cases.items():
            a, b = agree.get(method) or (ours(), theirs())
            r = pearson_per_image(normalize_maps(a), normalize_maps(np.asarray(b).reshape(np.shape(a))))
            t = _race({"ours": ours, "theirs": theirs, "floor": floor_fn}, repeats)
            ours_s, theirs_s = t["ours"], t["theirs"]
            floor_s = t["floor"] * (samples if method.startswith("SmoothGrad") else 1)  # not `floor`: floor_fn calls it
            rows.append({"model": model, "method": method, "batch": n, "r_min": float(r.min()),
                         "r_median": float(np.median(r)), "ours_s": ours_s, "theirs_s": theirs_s, "ratio": ours_s / theirs_s,
                         "floor_s": floor_s, "floor_x": ours_s / floor_s, "note": note})
        extra = {
            "SmoothGrad, each library's default convention": (
                attribution.to_map(ours_sg), normalize_maps(np.asarray(theirs_sg_default)),
                "ours |mean grad|, theirs mean |grad| (same noise draws)"),
            "Grad-CAM++, ours recomputed with tf-keras-vis's alpha normalization": (
                _gradcam_pp_tkv_convention(acts, g),
                gcpp(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                "checks that the convention is the whole difference"),
            "Score-CAM, ours recomputed with tf-keras-vis's mask resizing": (
                _scorecam_tkv_masks(m, x, target, layer),
                sc(score, x, penultimate_layer=layer, expand_cam=False, normalize_cam=False),
                "masks resized by scipy.ndimage.zoom(order=1, mode='nearest'): checks that the resize is the whole "
                "difference"),
            "Grad-CAM (upsampled to the input)": (
                cam.grad_cam(m, x, target, layer), gc(score, x, penultimate_layer=layer),
                "ours tf.image.resize bilinear (half-pixel centres), theirs scipy.ndimage.zoom order=1"),
        }
        for method, (a, b, note) in extra.items():
            r = pearson_per_image(normalize_maps(a), normalize_maps(np.asarray(b).reshape(np.shape(a))))
            rows.append({"model": model, "method": method, "batch": n, "r_min": float(r.min()),
                         "r_median": float(np.median(r)), "note": note})
    return rows


def activation_maximization_speed(model: str = "fashion_vgg", layer: str | None = None, c: int = 0,
                                  steps: int = 20, tkv: bool = True) -> dict:
    """Steps per second of a channel objective (mean of channel ``c`` of ``layer``), ours
    (:class:`~course_utils.optimization.Renderer`, pixels, no transforms) and, with ``tkv``, tf-keras-vis's
    ``ActivationMaximization`` (no input modifiers, no regularizers, Adam), both on one image; the first
    call (tracing) is excluded from both."""
    import keras
    import numpy as np
    import tensorflow as tf

    from course_utils import optimization as opt
    from course_utils.layers import find_layer
    from course_utils.models import load_model

    cm = load_model(model, verbose=False, **({} if model.startswith("fashion") else {"weights": None}))
    layer = layer or cm.last_conv_layer
    size = cm.input_size[0]
    renderer = opt.Renderer(cm, opt.channel(layer, c), opt.Pixels(1, size), transforms=())
    renderer.run(2, progress=False)
    ours = _time(lambda: renderer.run(steps, progress=False))
    out = {"model": model, "layer": layer, "steps": steps, "ours_steps_s": steps / ours}
    if tkv:
        from tf_keras_vis.activation_maximization import ActivationMaximization

        sub = keras.Model(cm.model.inputs, find_layer(cm.model, layer).output)
        am = ActivationMaximization(sub, clone=False)
        seed = tf.constant(np.random.default_rng(0).uniform(0.4, 0.6, (1, size, size, 3)), tf.float32)

        def theirs(k):
            return am(lambda a: tf.reduce_mean(a[..., c], axis=(1, 2)), seed_input=seed, input_range=(0.0, 1.0),
                      input_modifiers=[], regularizers=[], steps=k, optimizer=keras.optimizers.Adam(0.05))
        theirs(2)
        out["theirs_steps_s"] = steps / _time(lambda: theirs(steps))
        out["ratio"] = out["theirs_steps_s"] / out["ours_steps_s"]
    return out


def perturbation_speed(repeats: int = 1) -> list[dict]:
    """Seconds for one map of each perturbation method (and Score-CAM) on one held-out scene (``fashion_vgg``)
    and one sample photo (``efficientnet_lite0``), with the forward passes each needs; best of ``repeats``
    after a warm-up call."""
    from course_utils import cam, perturbation
    from course_utils.models import load_model

    rows = []
    settings = (("fashion_vgg", (8, 4), 1000, None), ("efficientnet_lite0", (32, 16), 500, 128))
    for name, occlusion, masks, faster in settings:
        cm = load_model(name, verbose=False)
        x = cm.preprocess(cm.samples(1))
        t = int(cm.model(x).numpy().argmax())
        layer = cm.last_conv_layer
        side = (x.shape[1] - occlusion[0]) // occlusion[1] + 1
        maps = cm.model.get_layer(layer).output.shape[-1] if "/" not in layer else None
        cases = {
            f"occlusion (patch {occlusion[0]}, stride {occlusion[1]})": (
                lambda: perturbation.occlusion(cm.model, x, t, *occlusion), side * side + 1),
            f"RISE ({masks} masks)": (lambda: perturbation.rise(cm.model, x, t, masks=masks), masks),
            f"Score-CAM at {layer}" + (f", {faster} maps of largest std" if faster else ""): (
                lambda: cam.score_cam(cm.model, x, t, layer, max_channels=faster), faster or maps),
        }
        for method, (fn, passes) in cases.items():
            fn()
            rows.append({"model": name, "method": method, "passes": passes,
                         "seconds": min(_time(fn) for _ in range(repeats))})
    return rows


def imagenet_tier(names: Sequence[str] = ("vgg16", "mobilenet_v2"), repeats: int = 3, steps: int = 10) -> list[dict]:
    """Per 224x224 image on this CPU (``weights=None``, the same cost as trained weights): saliency and
    Grad-CAM latency at batch 1 and activation-maximization steps/s of a channel objective."""
    import numpy as np

    from course_utils import attribution, cam
    from course_utils.models import load_model

    rows = []
    for name in names:
        cm = load_model(name, weights=None, verbose=False)
        x = cm.preprocess(cm.samples(1))
        t = int(np.argmax(cm.model.predict(x, verbose=0)))
        times = _race({"saliency_s": lambda: attribution.vanilla_saliency(cm.model, x, t),
                       "grad_cam_s": lambda: cam.grad_cam(cm.model, x, t, cm.last_conv_layer)}, repeats)
        row = {"model": name, **times}
        layer = cm.feature_layers[len(cm.feature_layers) // 2]
        row["am_layer"] = layer
        row["am_steps_s"] = activation_maximization_speed(name, layer, 0, steps, tkv=False)["ours_steps_s"]
        rows.append(row)
    return rows


def photo_tier(repeats: int = 3, steps: int = 256) -> dict:
    """The real network of the photo sections, ``efficientnet_lite0`` with its ImageNet weights, on this CPU:
    load time, a slider move of the activation, saliency and Grad-CAM explorers on the sample photos, and a
    128 px feature visualization of 4 channels at once (Fourier, standard transforms, ``steps`` steps)."""
    from course_utils import optimization as opt
    from course_utils.models import load_model

    start = time.perf_counter()
    cm = load_model("efficientnet_lite0", verbose=False)
    out = {"load_s": time.perf_counter() - start}
    out["widgets"] = widget_latency("efficientnet_lite0", repeats,
                                    explorers=("activation_explorer", "saliency_explorer", "cam_explorer"))
    layer = cm.feature_layers[2]
    renderer = opt.Renderer(cm, opt.channel(layer, [0, 1, 2, 3]), opt.Fourier(4, 128), transforms=None, n=4)
    renderer.run(2, progress=False)  # traced here, not timed
    out["render"] = {"layer": layer, "steps": steps, "size": 128, "n": 4,
                     "seconds": _time(lambda: renderer.run(steps, progress=False))}
    return out


def course_cost(root=None) -> dict:
    """``{"default": [...], "fast": [...]}`` (one entry per notebook) from ``build/course/summary.json`` and
    ``build/fast/summary.json`` (written by ``python -m course_utils.runner`` with and without ``--fast``); None
    where missing; ``default_when``/``fast_when``: when each summary was written; ``default_wall``/``fast_wall``:
    ``(seconds, notebooks at a time)`` of the whole run (a summary from before the runner ran notebooks side by
    side: their sum, one at a time)."""
    import datetime
    import json
    from pathlib import Path

    root = Path(root) if root else Path(__file__).resolve().parent.parent
    out = {}
    for key, folder in (("default", "course"), ("fast", "fast")):
        path = root / "build" / folder / "summary.json"
        summary = json.loads(path.read_text()) if path.exists() else None
        if isinstance(summary, list):
            summary = {"wall_s": sum(r["seconds"] for r in summary), "jobs": 1, "notebooks": summary}
        out[key] = summary and summary["notebooks"]
        if summary:
            out[f"{key}_wall"] = (summary["wall_s"], summary["jobs"])
            out[f"{key}_when"] = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return out


def machine_info() -> dict:
    """CPU, cores, memory and the versions of the libraries measured."""
    import importlib.metadata as md
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil
        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        mem = "?"
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__}
    for pkg in ("keras", "numpy", "scipy", "tf-keras-vis"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "load": os.getloadavg()[0],
            "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions}


TARGETS = {"r": 0.99, "ratio": 1.0, "smoothgrad_ratio": 0.2, "floor_x": 1.3, "default_s": 480, "fast_s": 180,
           "peak_mb": 1536}


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def _section(title: str, intro: str | None, value, render) -> list[str]:
    """Markdown lines of one report section: heading, ``intro``, then ``render(value)`` or "not measured"."""
    return [f"## {title}", "", *([intro, ""] if intro else []), *(render(value) if value else ["not measured"]), ""]


def write_report(results: dict, path=None) -> str:
    """Markdown for ``results`` (keys ``machine``, ``tkv`` (rows of :func:`compare_tkv`), ``am``, ``imagenet``,
    ``course``, ``seconds``; any may be missing or None), written to ``path`` when given. Returns the text."""
    from pathlib import Path

    m = results.get("machine") or {}
    lines = ["# Benchmarks", "",
             "Generated by `make bench` (`python -m benchmarks.bench report`); do not edit by hand.", ""]
    lines += ["## Machine", ""]
    if m:
        lines += [f"- CPU: {m.get('cpu')} ({m.get('cores')} cores), memory {m.get('memory')}",
                  f"- Python {m.get('python')} on {m.get('platform')}; load average {m.get('load', float('nan')):.1f} "
                  "when the run started (other work on the machine slows every timing alike)",
                  "- " + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())]
    if results.get("seconds") is not None:
        lines.append(f"- this report took {results['seconds']:.0f} s to measure")
    lines.append("")
    rows = results.get("tkv") or []
    lines += ["## Agreement with tf-keras-vis", "",
              "Per-image Pearson r after min-max normalizing both maps the same way; same weights, same held-out "
              f"scenes, predicted classes as targets. Target: r >= {TARGETS['r']} for every deterministic method.", ""]
    if rows:
        lines += ["| model | method | batch | r min | r median | target | note |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            deterministic = "SmoothGrad" not in r["method"] or "same noise" in r["method"]
            explained = "ratio" not in r or "Grad-CAM++" in r["method"] or "Score-CAM" in r["method"]  # see the notes
            if deterministic and (r["r_min"] >= TARGETS["r"] or not explained):
                verdict = _ok(r["r_min"] >= TARGETS["r"])
            else:
                verdict = "see below"
            lines.append(f"| {r['model']} | {r['method']} | {r['batch']} | {r['r_min']:.4f} | {r['r_median']:.4f} | "
                         f"{verdict} | {r.get('note', '').replace('|', chr(92) + '|')} |")
        lines += ["", GRADCAM_PP_NOTE, "", SMOOTHGRAD_NOTE, "", UPSAMPLE_NOTE, "", SCORECAM_NOTE, ""]
        lines += ["## Speed against tf-keras-vis, and distance to the floor", "",
                  "Fastest of a few calls (after a warm-up call), ours, theirs and the floor interleaved in the same "
                  "process. Floor: one compiled forward+backward pass to the input on the same batch (Grad-CAM "
                  "stops its backward pass at the conv layer, so it can beat this floor); for SmoothGrad, `samples` "
                  "such passes (the arithmetic it cannot avoid). Targets: ours/theirs <= "
                  f"{TARGETS['ratio']} (SmoothGrad <= {TARGETS['smoothgrad_ratio']}); saliency and Grad-CAM <= "
                  f"{TARGETS['floor_x']}x the floor.", "",
                  "| model | method | batch | ours (ms) | theirs (ms) | ours/theirs | target | floor (ms) | x floor | "
                  "target |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "ratio" not in r:
                continue
            sg = "SmoothGrad" in r["method"]
            limit = TARGETS["smoothgrad_ratio"] if sg else TARGETS["ratio"]
            floor_target = _ok(r["floor_x"] <= TARGETS["floor_x"]) if ("saliency" in r["method"] or
                                                                      r["method"].startswith("Grad-CAM (")) else "-"
            lines.append(f"| {r['model']} | {r['method']} | {r['batch']} | {1e3 * r['ours_s']:.1f} | {1e3 * r['theirs_s']:.1f} | "
                         f"{r['ratio']:.3f} | {_ok(r['ratio'] <= limit)} | {1e3 * r['floor_s']:.1f} | "
                         f"{r['floor_x']:.2f} | {floor_target} |")
        lines += ["", SPEED_NOTE, ""]
    else:
        lines += ["not measured: install requirements-bench.txt (tf-keras-vis) and run make bench", ""]
    lines += _section("Activation maximization", None, results.get("am"), lambda am: [
        f"Channel objective (channel 0 of `{am['layer']}`, {am['model']}), one 64x64 image, pixels, no transforms or "
        f"regularizers, Adam, {am['steps']} steps after a warm-up run.", "",
        "| ours (steps/s) | tf-keras-vis (steps/s) | ours/theirs time | target |", "|---|---|---|---|",
        f"| {am['ours_steps_s']:.1f} | {am.get('theirs_steps_s', float('nan')):.1f} | "
        f"{am.get('ratio', float('nan')):.3f} | {_ok(am.get('ratio', 9) <= TARGETS['ratio'])} |"])
    lines += ["## The course's own cost", "",
              "Wall time of each notebook in a fresh kernel (papermill) and the peak resident memory of the kernel "
              "and its children (summed, sampled every 50 ms); MB = 2^20 bytes, so the 1.5 GB target is 1536 MB "
              "(Binder allows about 2 GB). Resident memory includes the pages of TensorFlow's libraries that the kernel maps "
              "from the page cache: right after a fresh install, with those files still cached, the same notebooks "
              "measured about 100 MB more (07 up to 1574 MB once), without using more memory of their own.", ""]
    course = results.get("course") or {}
    for key in ("default", "fast"):
        runs = course.get(key)
        if not runs:
            lines += [f"{key} parameters: not measured: run make course"
                      f"{' (python -m course_utils.runner --fast for the fast run)' if key == 'fast' else ''}", ""]
            continue
        peak, limit = max(r["peak_mb"] for r in runs), TARGETS[f"{key}_s"]
        total, jobs = course.get(f"{key}_wall", (sum(r["seconds"] for r in runs), 1))
        expected = results.get("course_notebooks")
        partial = bool(expected and len(runs) < expected)
        if partial:
            lines += [f"{key} parameters: partial: the last run covered {len(runs)} of the {expected} notebooks; "
                      "run make course" + (" and python -m course_utils.runner --fast" if key == "fast" else "")
                      + " for the whole course. What it measured:", ""]
        lines += [f"{key} parameters, measured {course.get(key + '_when', '?')} by "
                  f"`{'python -m course_utils.runner --fast' if key == 'fast' else 'make course'}`: "
                  f"{len(runs)} notebooks, {total:.0f} s wall with {jobs} at a time "
                  f"({sum(r['seconds'] for r in runs):.0f} s summed), peak {peak:.0f} MB "
                  f"(targets: <= {limit // 60} min in all: "
                  f"{'not judged, partial run' if partial else _ok(total <= limit)}; "
                  f"<= {TARGETS['peak_mb'] / 1024:.1f} GB per notebook: {_ok(peak <= TARGETS['peak_mb'])})", "",
                  "| notebook | ok | wall (s) | peak (MB) |", "|---|---|---|---|"]
        lines += [f"| {r['notebook']} | {'yes' if r['ok'] else 'FAILED'} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |"
                  for r in runs]
        lines.append("")
    lines += _section(
        "Widgets: one slider move",
        "Bundled model, one control set to a new value (what a slider move does) until the figure is a JPEG; median "
        "of a few moves; the first draw builds and traces sub-models. A new t-SNE layout is computed when the "
        "embedding explorer's layer or perplexity changes (then memoized). Where SmoothGrad or Integrated Gradients "
        "refine their map, the first figure comes before the last.",
        results.get("widgets"), lambda rows: [
            "| explorer | control | first draw (s) | median move, first figure (s) | median move, last figure (s) |",
            "|---|---|---|---|---|",
            *(f"| {name} | {control} | {first:.2f} | {shown:.3f} | {done:.3f} |"
              for name, control, first, shown, done in rows)])
    lines += _section("Leaks over a lecture's worth of slider moves", None, results.get("leaks"), lambda leak: [
        f"{leak['calls']} moves of {', '.join(f'`{c}`' for c in leak['controls'])} in turn, after {leak['warmup']} "
        f"warm-up moves (the first visit of a layer builds its sub-model): resident memory "
        f"{leak['rss_before_mb']:.0f} -> {leak['rss_after_mb']:.0f} MB ({leak['growth_mb']:+.1f} MB), "
        f"{len(leak['retracing_warnings'])} tf.function retracing warnings, {leak['traces_after_warmup']} new "
        f"traces; median move {leak['median_call_s']:.2f} s."])
    lines += _section(
        "The real network (efficientnet_lite0) on this CPU",
        "EfficientNet-Lite0 with its ImageNet weights, the default of the photo sections. Slider moves on the sample "
        "photos at 224 px (target <= 0.5 s each until a figure answers the move); a 128 px feature visualization of 4 "
        "channels at once with Fourier images and the standard transforms (target <= 20 s for 256 steps). A method "
        "move of the saliency explorer visits SmoothGrad (20 noisy copies), Integrated Gradients (32 steps) and guided "
        "backprop: the first two show a map from 2 copies (steps) first, then the full one.",
        results.get("photo"), lambda p: [
            f"Load (graph + weights converted from the package's file): {p['load_s']:.1f} s.", "",
            "| explorer | control | first draw (s) | median move, first figure (s) | median move, last figure (s) "
            "| first figure <= 0.5 s |", "|---|---|---|---|---|---|",
            *(f"| {e} | {c} | {first:.2f} | {shown:.2f} | {done:.2f} | {_ok(shown <= 0.5)} |"
              for e, c, first, shown, done in p["widgets"]),
            "", f"Feature visualization: {p['render']['n']} channels of `{p['render']['layer']}` at "
                f"{p['render']['size']} px, {p['render']['steps']} steps: {p['render']['seconds']:.1f} s "
                f"({_ok(p['render']['seconds'] <= 20)})."])
    lines += _section(
        "Perturbation maps on this CPU",
        "One map of one input, best of a few calls after a warm-up: no gradients, one forward pass per perturbed copy "
        "(`course_utils.perturbation`, `cam.score_cam`), batched through one compiled pass.",
        results.get("perturbation"), lambda rows: [
            "| model | method | forward passes | seconds |", "|---|---|---|---|",
            *(f"| {r['model']} | {r['method']} | {r['passes']} | {r['seconds']:.2f} |" for r in rows)])
    lines += _section(
        "ImageNet tier on this CPU",
        "Per 224x224 image, batch 1, `weights=None` (the same cost as trained weights); activation maximization: a "
        "channel objective, pixels, no transforms.",
        results.get("imagenet"), lambda rows: [
            "| model | saliency (s) | Grad-CAM (s) | activation maximization (steps/s, layer) |", "|---|---|---|---|",
            *(f"| {r['model']} | {r['saliency_s']:.3f} | {r['grad_cam_s']:.3f} | {r['am_steps_s']:.1f} "
              f"(`{r['am_layer']}`) |" for r in rows)])
    text = "\n".join(lines).rstrip("\n") + "\n"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text


GRADCAM_PP_NOTE = """**Grad-CAM++: which convention.** Both compute eq. 19 of Chattopadhay et al. 2018 (arXiv:1710.11063),
`alpha_kij = g^2 / (2 g^2 + sum_ab A_kab g^3)` with `g = dY^c/dA_kij` (tf-keras-vis multiplies every
derivative by `exp(S^c)`, which cancels in `alpha` and only scales the map). The paper then takes
`w_k = sum_ij alpha_kij ReLU(g_kij)` (eq. 10 / 19); ours does exactly that. tf-keras-vis, like the authors' released
code, additionally divides `alpha` by its spatial sum per channel, `alpha_kij / sum_ij alpha_kij`, which reweights the
channels (a channel whose gradient is spread thin gains weight) and so changes the map, not just its scale. Ours
follows the paper's formula; the row "ours recomputed with tf-keras-vis's alpha normalization" shows that this one
convention accounts for the whole difference. At fashion_gap's `class_conv` only the target class's channel has a
non-zero gradient, so there is nothing to reweight and the two agree exactly. (tf-keras-vis's `exp(S^c)` also overflows float32 for logits above
about 88, giving inf/NaN maps; ours never forms it.)"""

SPEED_NOTE = """**Where a target is missed, why.** SmoothGrad at batch 32 is compute-bound: 32 images x 20 samples
are 640 forward+backward passes whichever library runs them (tf-keras-vis as 20 batches of 32, ours as batches of
128). Ours runs at about that floor (0.9-1.2x in the "x floor" column); tf-keras-vis at 2-3x, its eager overhead.
Batching the noisy copies removes that overhead (hence ratios near 0.1 at batch 1) but not the arithmetic, so at
batch 32 the ratio is about 0.4-0.5; <= 0.2 would need tf-keras-vis to run at 5x the floor, or ours to do fewer passes
than the method's `samples` (a different method). Saliency's "x floor" moves between about 0.9 and 1.3 from run to
run: ours is the floor plus about 1 ms of numpy (input checks, max |grad|, normalization), and at batch 1 the floor
itself is only 6-9 ms on this machine."""

UPSAMPLE_NOTE = """**Grad-CAM upsampled.** At the layer's resolution the two agree exactly; the upsampled maps differ only by
interpolation. Ours uses `tf.image.resize(..., "bilinear")` (half-pixel centres, as cv2.resize and PIL do); tf-keras-vis
uses `scipy.ndimage.zoom(order=1)`, whose default grid aligns the corner pixels, shifting each layer cell by up to
half a cell (4 input pixels at 64/8) towards the border. Selvaraju et al. only say "upsample bilinearly"; half-pixel
centres keep each cell centred on the input region it summarizes, so ours is the one we keep."""

SCORECAM_NOTE = """**Score-CAM: the masks.** Both follow Wang et al. 2020 (arXiv:1910.01279): a map's weight is the
softmax probability of the class on the input times that map, resized to the input and scaled to [0, 1]; the CAM is
`ReLU(sum_k w_k A_k)`. They resize differently, as for Grad-CAM above: ours with `tf.image.resize` (bilinear,
half-pixel centres), tf-keras-vis with `scipy.ndimage.zoom(order=1)`, whose grid shifts each cell by up to half a
cell. A mask that covers the item's edge in one and misses it in the other changes that map's probability, so the
two CAMs differ on some scenes (the r min of the Score-CAM rows); the row "ours recomputed with tf-keras-vis's mask
resizing" shows that the resize is the whole difference. Ours keeps half-pixel centres, as it does for Grad-CAM."""

SMOOTHGRAD_NOTE = """**SmoothGrad.** Smilkov et al. 2017 (arXiv:1706.03825), eq. 2: `M_hat(x) = 1/n sum_i M(x + N(0, sigma^2))`
with `M = dS_c/dx`: the gradients are averaged, then reduced to a map (max over channels of |.|). Ours does that.
tf-keras-vis by default takes |.| of every sample's gradient before averaging (`gradient_modifier=abs`), the
paper's variant with `M = |dS_c/dx|`; with `gradient_modifier=None` the two agree on the same noise draws (the
"same noise draws" rows feed our draws to tf-keras-vis). The default-convention row is not a correctness check:
both are valid choices, and the maps differ by design. tf-keras-vis runs the noisy copies one sample at a time
(`samples` passes); ours batches them."""


def report(path: str = "docs/benchmarks.md", repeats: int = 3, imagenet: bool = True) -> str:
    """Run every benchmark of issue #5 and write the markdown report to ``path``; returns its text."""
    start = time.perf_counter()
    from pathlib import Path

    notebooks = len(list((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    results = {"machine": machine_info(), "course": course_cost(), "course_notebooks": notebooks}
    try:
        import tf_keras_vis  # noqa: F401
        have_tkv = True
    except ImportError:
        have_tkv = False
    results["leaks"] = leaks()  # first: the process is as small as it will be, so growth stands out
    results["widgets"] = widget_latency()
    if have_tkv:
        results["tkv"] = [row for model in ("fashion_vgg", "fashion_gap") for row in compare_tkv(model, repeats=repeats)]
    results["am"] = activation_maximization_speed(tkv=have_tkv)
    results["photo"] = photo_tier(repeats=repeats)
    results["perturbation"] = perturbation_speed()
    if imagenet:
        results["imagenet"] = imagenet_tier(repeats=repeats)
    results["seconds"] = time.perf_counter() - start
    return write_report(results, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["widgets", "leaks", "report"])
    parser.add_argument("--model", default="fashion_vgg")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100, help="leaks: slider moves measured after the warm-up")
    parser.add_argument("--out", default="docs/benchmarks.md", help="report: where to write the markdown")
    parser.add_argument("--no-imagenet", action="store_true", help="report: skip the ImageNet-tier timings")
    args = parser.parse_args(argv)
    if args.what == "report":
        text = report(args.out, repeats=min(args.repeats, 3), imagenet=not args.no_imagenet)
        print(text)
        return 0
    if args.what == "leaks":
        r = leaks(args.model, args.calls)
        print(f"{r['calls']} moves of {', '.join(r['controls'])} ({r['median_call_s']:.2f} s median):\n"
              f"resident memory {r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB ({r['growth_mb']:+.1f} MB), "
              f"{len(r['retracing_warnings'])} retracing warnings, {r['traces_after_warmup']} tf.function traces "
              "after the warm-up")
        for message in r["retracing_warnings"]:
            print("  ", message)
        return 0
    print("| explorer | control | first draw (s) | first figure (s) | last figure (s) |\n|---|---|---|---|---|")
    for name, control, first, shown, done in widget_latency(args.model, args.repeats):
        print(f"| {name} | {control} | {first:.2f} | {shown:.3f} | {done:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

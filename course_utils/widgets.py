"""ipywidgets explorers for the lecture hall. Only the API shared by ipywidgets 7 (Colab) and 8 is
used: ``IntSlider``, ``FloatLogSlider``, ``Dropdown``, ``Checkbox``, ``Image``, ``HBox``/``VBox``
and ``observe``.

Each explorer returns a ``VBox`` whose ``redraw()`` method draws the current state (used by tests to
time an interaction). Figures are shown as PNG in an ``Image`` widget rather than through an
``Output`` widget: that works the same in JupyterLab, Colab and headless runs (nbclient can hang on
``Output.clear_output(wait=True)``, see jupyter/nbclient#312). Sub-models are cached
(:func:`course_utils.activations.feature_model`), so a slider move costs one forward pass, one
``imshow`` of a mosaic and one PNG encoding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from course_utils import plotting
from course_utils.activations import get_activations


def _show(out, fig, dpi: int = 80) -> None:
    """Render ``fig`` to PNG into the ``ipywidgets.Image`` ``out`` and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    out.value = buffer.getvalue()


def activation_explorer(cm, images: np.ndarray, layers: Sequence[str] | None = None, max_channels: int = 64,
                        titles: Sequence[str] | None = None):
    """Sliders for image, layer, channel and overlay over ``images`` ``(N, H, W, 3)`` in [0, 1].

    Shows the image, the first ``max_channels`` channels of the layer as a grid (the chosen channel
    framed) and the chosen channel enlarged. Introduced in notebooks/00_activation_grids.ipynb.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    layers = list(layers or cm.feature_layers)
    x = cm.preprocess(images)
    image_s = W.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    layer_d = W.Dropdown(options=layers, value=layers[0], description="layer")
    channel_s = W.IntSlider(value=0, min=0, max=1, description="channel")
    overlay_c = W.Checkbox(value=False, description="overlay on image")
    out = W.Image(format="png")

    def acts_of():
        return get_activations(cm.model, x[image_s.value:image_s.value + 1], layer_d.value)[0]

    def redraw(*_):
        acts = acts_of()
        channel_s.max = acts.shape[-1] - 1
        c = min(channel_s.value, channel_s.max)
        image = images[image_s.value]
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 2.2, 1]})
        axes[0].imshow(image)
        axes[0].set_title(titles[image_s.value] if titles is not None else f"image {image_s.value}", fontsize=9)
        axes[0].set_axis_off()
        shown = range(min(max_channels, acts.shape[-1]))
        plotting.activation_grid(acts, image if overlay_c.value else None, channels=shown, ncols=8, ax=axes[1],
                                 title=f"{layer_d.value}: {acts.shape[-1]} channels of {acts.shape[0]}x{acts.shape[1]}"
                                       + (f" (first {len(shown)})" if len(shown) < acts.shape[-1] else ""))
        if c in shown:
            h, w = acts.shape[:2] if not overlay_c.value else image.shape[:2]
            r, k = divmod(c, 8)
            axes[1].add_patch(plt.Rectangle((k * (w + 1) - 0.5, r * (h + 1) - 0.5), w, h, fill=False, ec="cyan", lw=2))
        if overlay_c.value:
            plotting.overlay(image, acts[..., c], ax=axes[2], title=f"channel {c}")
        else:
            axes[2].imshow(acts[..., c], cmap="inferno")
            axes[2].set_title(f"channel {c}, max {acts[..., c].max():.2f}", fontsize=9)
            axes[2].set_axis_off()
        fig.tight_layout()
        _show(out, fig)

    for w in (image_s, layer_d, channel_s, overlay_c):
        w.observe(redraw, names="value")
    box = W.VBox([W.HBox([image_s, layer_d]), W.HBox([channel_s, overlay_c]), out])
    box.redraw = redraw
    redraw()
    return box


def saliency_explorer(cm, images: np.ndarray, methods: Sequence[str] | None = None,
                      titles: Sequence[str] | None = None):
    """Sliders for image, class and saliency method over ``images`` ``(N, H, W, 3)`` in [0, 1]:
    image, map and overlay side by side. Introduced in notebooks/01_saliency_maps.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from course_utils.attribution import METHODS, saliency

    methods = list(methods or METHODS)
    x = cm.preprocess(images)
    probs = cm.predict(images)
    image_s = W.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    class_d = W.Dropdown(options=[(f"{k}: {n}", k) for k, n in enumerate(cm.class_names)],
                         value=int(probs[0].argmax()), description="class")
    method_d = W.Dropdown(options=methods, value=methods[0], description="method")
    out = W.Image(format="png")

    def redraw(*_):
        i, c = image_s.value, class_d.value
        heatmap = saliency(cm.model, x[i:i + 1], c, method=method_d.value)[0]
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        axes[0].imshow(images[i])
        axes[0].set_title(titles[i] if titles is not None else f"image {i}", fontsize=9)
        axes[1].imshow(heatmap, cmap="gray")
        axes[1].set_title(f"{method_d.value}: {cm.class_names[c]} ({probs[i, c]:.0%})", fontsize=9)
        plotting.overlay(images[i], heatmap, ax=axes[2], title="overlay")
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        _show(out, fig)

    def new_image(change):
        predicted = int(probs[change["new"]].argmax())
        if class_d.value != predicted:
            class_d.value = predicted  # follow the prediction; the class observer redraws
        else:
            redraw()

    image_s.observe(new_image, names="value")
    for w in (class_d, method_d):
        w.observe(redraw, names="value")
    box = W.VBox([W.HBox([image_s, class_d, method_d]), out])
    box.redraw = redraw
    redraw()
    return box


def feature_explorer(cm, layers: Sequence[str] | None = None, steps: int = 32):
    """Sliders for layer, channel and parameterization; each change renders the image that maximizes
    the channel. One compiled :class:`~course_utils.optimization.Renderer` per (layer,
    parameterization) with the channel in a ``tf.Variable``, so moving the channel slider never
    retraces. Introduced in notebooks/02_optimize_image_wrt_neuron.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from course_utils import optimization as opt

    layers = list(layers or cm.feature_layers)
    size = cm.input_size[0]
    params = {"fourier": lambda: opt.Fourier(1, size), "pixels": lambda: opt.Pixels(1, size),
              "pixels, decorrelated": lambda: opt.Pixels(1, size, decorrelate=True)}
    widths = {l: int(a.shape[-1]) for l, a in zip(layers, get_activations(
        cm.model, np.zeros((1, *cm.input_size, 3), np.float32), layers))}
    layer_d = W.Dropdown(options=layers, value=layers[-1], description="layer")
    channel_s = W.IntSlider(value=0, min=0, max=widths[layers[-1]] - 1, description="channel")
    param_d = W.Dropdown(options=list(params), value="fourier", description="image as")
    out = W.Image(format="png")
    channel = tf.Variable(0)

    def renderer(layer, param):
        r = opt.Renderer(cm, opt.channel(layer, channel), params[param]())
        r.run(1, progress=False)  # trace the step now, not on the first slider move
        return r

    renderers = {(layer, "fourier"): renderer(layer, "fourier") for layer in layers}  # compiled up front

    def redraw(*_):
        channel_s.max = widths[layer_d.value] - 1
        key = (layer_d.value, param_d.value)
        if key not in renderers:
            renderers[key] = renderer(*key)
        channel.assign(channel_s.value)
        image, history = renderers[key].run(steps, progress=False)
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
        axes[0].imshow(image[0])
        axes[0].set_title(f"{layer_d.value}: channel {channel_s.value}", fontsize=9)
        axes[0].set_axis_off()
        axes[1].plot(history[:, 0])
        axes[1].set_xlabel("step")
        axes[1].set_title("mean activation", fontsize=9)
        fig.tight_layout()
        _show(out, fig)

    for w in (layer_d, channel_s, param_d):
        w.observe(redraw, names="value")
    box = W.VBox([W.HBox([layer_d, channel_s, param_d]), out])
    box.redraw = redraw
    redraw()
    return box


def inversion_explorer(cm, image: np.ndarray, layers: Sequence[str] | None = None, steps: int = 36):
    """Sliders for layer and total-variation weight; each change inverts ``image`` ``(H, W, 3)`` from
    that layer. One compiled renderer per layer, the weight in a ``tf.Variable``.
    Introduced in notebooks/03_optimize_image_wrt_content.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from course_utils import optimization as opt
    from course_utils.metrics import psnr

    layers = list(layers or cm.feature_layers)
    x0 = cm.preprocess(image)
    layer_d = W.Dropdown(options=layers, value=layers[0], description="layer")
    tv_s = W.FloatLogSlider(value=0.5, base=10, min=-3, max=1, step=0.5, description="TV weight")
    out = W.Image(format="png")
    weight = tf.Variable(0.5)

    def renderer(layer):
        objective = opt.feature_match(layer, get_activations(cm.model, x0, layer)) - weight * opt.total_variation()
        r = opt.Renderer(cm, objective, opt.Pixels(1, cm.input_size[0], std=0.5))
        r.run(1, progress=False)  # trace the step now, not on the first slider move
        return r

    renderers = {layer: renderer(layer) for layer in layers}  # compiled up front: sliders never retrace

    def redraw(*_):
        weight.assign(tv_s.value)
        inverted = renderers[layer_d.value].run(steps, progress=False)[0][0]
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
        axes[0].imshow(image)
        axes[0].set_title("original", fontsize=9)
        axes[1].imshow(inverted)
        axes[1].set_title(f"from {layer_d.value}: PSNR {psnr(inverted[None], image[None])[0]:.1f} dB", fontsize=9)
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        _show(out, fig)

    for w in (layer_d, tv_s):
        w.observe(redraw, names="value")
    box = W.VBox([W.HBox([layer_d, tv_s]), out])
    box.redraw = redraw
    redraw()
    return box

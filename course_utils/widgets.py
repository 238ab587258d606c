"""ipywidgets explorers for the lecture hall. Only the API shared by ipywidgets 7 (Colab) and 8 is
used: ``IntSlider``, ``FloatLogSlider``, ``Dropdown``, ``Checkbox``, ``Image``, ``HBox``/``VBox``
and ``observe``.

Every explorer is built by one scaffold (:func:`_explorer`) and returns a ``VBox`` with ``controls``
(``{name: widget}``, e.g. ``box.controls["layer"]``), ``figure`` (the ``Image`` widget) and ``redraw()``
(draws the current state; tests and benchmarks time an interaction with it). Figures are shown as JPEG in an
``Image`` widget rather than through an ``Output`` widget: that works the same in JupyterLab, Colab and headless
runs (nbclient can hang on ``Output.clear_output(wait=True)``, see jupyter/nbclient#312). Sub-models are cached
(:func:`course_utils.activations.feature_model`), so a slider move costs one forward pass, one
``imshow`` of a mosaic and one JPEG encoding.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence

import numpy as np

from course_utils import plotting
from course_utils.activations import get_activations
from course_utils.base import ModelLike
from course_utils.images import resize
from course_utils.layers import find_layer, layer_paths
from course_utils.models import course_model


def _show(out, fig, dpi: int = 100, quality: int = 80) -> None:
    """Render ``fig`` to JPEG into the ``ipywidgets.Image`` ``out`` and close it. JPEG, not PNG: the figures hold
    photos, thumbnails and smooth heatmaps, which JPEG stores in a fifth to a third of PNG's bytes (the widget
    state saved in the notebooks: 1.8 MB less over the nine), at about the same cost per slider move."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, pil_kwargs={"quality": quality})
    plt.close(fig)
    out.value = buffer.getvalue()


def _panels(figsize: tuple[float, float], widths: Sequence[float], top: float = 0.86):
    """A figure of ``len(widths)`` side-by-side panels (relative ``widths``) at fixed places with their axes
    hidden: no ``tight_layout`` and no tick layout, about 0.2 s less per redraw than ``plt.subplots``."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    total, left, axes = float(sum(widths)), 0.0, []
    for w in widths:
        ax = fig.add_axes((left + 0.005, 0.01, w / total - 0.01, top - 0.01))
        ax.set_axis_off()
        ax.xaxis.set_visible(False)
        ax.yaxis.set_visible(False)
        axes.append(ax)
        left += w / total
    return fig, axes


@functools.cache
def _explorer_box():
    """``VBox`` whose display also carries a JPEG of its figure as it is now, so that a viewer without a kernel
    (GitHub, a notebook's static preview) shows the explorer's first state instead of ``VBox(children=...)``;
    JupyterLab, Colab and VS Code prefer the live widget. (ipywidgets 7 displays through ``_ipython_display_``
    and shows only the widget.)"""
    import base64

    import ipywidgets as W

    class Explorer(W.VBox):
        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is not None and getattr(self, "figure", None) is not None and self.figure.value:
                bundle["image/jpeg"] = base64.b64encode(bytes(self.figure.value)).decode("ascii")
                bundle["text/plain"] = "an explorer (ipywidgets): run the notebook in Jupyter to move its controls"
            return bundle

    return Explorer


def _explorer(controls: Mapping[str, object], rows: Sequence[Sequence[str]], out, redraw: Callable,
              handlers: Mapping[str, Callable] | None = None):
    """The scaffold of every explorer: ``controls`` (name -> widget) laid out in ``rows`` of names above
    the figure ``out``; a change of a control calls its handler in ``handlers``, else ``redraw``. Returns a
    ``VBox`` with ``.controls``, ``.figure`` and ``.redraw``, drawn once."""
    import ipywidgets as W

    for name, control in controls.items():
        control.observe((handlers or {}).get(name, redraw), names="value")
    box = _explorer_box()([W.HBox([controls[name] for name in row]) for row in rows if row] + [out])
    box.controls, box.figure, box.redraw = dict(controls), out, redraw
    redraw()
    return box


def activation_explorer(cm: ModelLike, images: np.ndarray, layers: Sequence[str] | None = None, max_channels: int = 64,
                        titles: Sequence[str] | None = None):
    """Sliders for image, layer, channel and overlay over ``images`` ``(N, H, W, 3)`` in [0, 1].

    Shows the image, the first ``max_channels`` channels of the layer as a grid (the chosen channel
    framed) and the chosen channel enlarged. One compiled pass (:func:`~course_utils.activations.compiled_features`)
    gives an image's activations at every layer; the last 8 images' are kept. Introduced in
    notebooks/00_activation_grids.ipynb.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    cm = course_model(cm)
    layers = list(layers or cm.feature_layers)
    flat = [layer for layer in layers if len(find_layer(cm.model, layer).output.shape) != 4]
    if flat:
        raise ValueError(f"layers {flat} have no spatial (N, h, w, C) output to draw as a grid of maps; use conv "
                         f"layers such as {cm.feature_layers}")
    images = cm.check_images(images)  # one image or a batch, uint8 or float -> float batch
    x = cm.preprocess(images)
    image_s = W.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    layer_d = W.Dropdown(options=layers, value=layers[0], description="layer")
    channel_s = W.IntSlider(value=0, min=0, max=1, description="channel")
    overlay_c = W.Checkbox(value=False, description="overlay on image")
    out = W.Image(format="jpeg")
    seen: dict[int, list[np.ndarray]] = {}  # image -> its activations at every layer (one forward pass serves all)

    def acts_of():
        i = image_s.value
        if i not in seen:
            if len(seen) >= 8:  # a bounded cache: the oldest image goes
                seen.pop(next(iter(seen)))
            seen[i] = get_activations(cm.model, x[i:i + 1], layers, compiled=True)  # a list of arrays
        return seen[i][layers.index(layer_d.value)][0]

    def redraw(*_):
        acts = acts_of()
        channel_s.max = acts.shape[-1] - 1
        c = min(channel_s.value, channel_s.max)
        image = images[image_s.value]
        fig, axes = _panels((11, 3.6), [1, 2.2, 1], top=0.9)
        axes[0].imshow(image)
        axes[0].set_title(titles[image_s.value] if titles is not None else f"image {image_s.value}",
                          fontsize=plotting.TITLE)
        shown = range(min(max_channels, acts.shape[-1]))
        grid_image = resize(image, min(image.shape[0], 64)) if overlay_c.value else None  # tiles of ~60 screen px
        plotting.activation_grid(acts, grid_image, channels=shown, ncols=8, ax=axes[1],
                                 title=f"{layer_d.value}: {acts.shape[-1]} channels of {acts.shape[0]}x{acts.shape[1]}"
                                       + (f" (first {len(shown)})" if len(shown) < acts.shape[-1] else ""))
        if c in shown:
            h, w = acts.shape[:2] if grid_image is None else grid_image.shape[:2]
            r, k = divmod(c, 8)
            axes[1].add_patch(plt.Rectangle((k * (w + 1) - 0.5, r * (h + 1) - 0.5), w, h, fill=False, ec="cyan", lw=2))
        if overlay_c.value:
            plotting.overlay(image, acts[..., c], ax=axes[2], title=f"channel {c}")
        else:
            axes[2].imshow(acts[..., c], cmap="inferno")
            axes[2].set_title(f"channel {c}, max {acts[..., c].max():.2f}", fontsize=plotting.TITLE)
        _show(out, fig)

    return _explorer({"image": image_s, "layer": layer_d, "channel": channel_s, "overlay": overlay_c},
                     [["image", "layer"], ["channel", "overlay"]], out, redraw)


def _heatmap_explorer(cm, images: np.ndarray, controls: dict, stages, cmap: str, titles=None):
    """Image slider and class dropdown (following the prediction) plus ``controls`` (name -> widget);
    ``stages(x, c)`` yields ``(label, map (H, W))`` of class ``c`` for one preprocessed image, cheapest first:
    each stage is drawn as it comes, so a costly method shows a first map at once and then refines it."""
    import ipywidgets as W

    images = cm.check_images(images)  # one image or a batch, uint8 or float -> float batch
    x = cm.preprocess(images)
    probs = cm.predict(images)
    image_s = W.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    class_d = W.Dropdown(options=[(f"{k}: {n}", k) for k, n in enumerate(cm.class_names)],
                         value=int(probs[0].argmax()), description="class")
    out = W.Image(format="jpeg")

    def redraw(*_):
        i, c = image_s.value, class_d.value
        for label, heat in stages(x[i:i + 1], c):
            fig, axes = _panels((9, 3.2), [1, 1, 1])
            axes[0].imshow(images[i])
            axes[0].set_title(titles[i] if titles is not None else f"image {i}", fontsize=plotting.TITLE)
            axes[1].imshow(heat, cmap=cmap, vmin=0, vmax=1)
            axes[1].set_title(label, fontsize=plotting.TITLE)
            plotting.overlay(images[i], heat, ax=axes[2], title=f"{cm.class_names[c]} ({probs[i, c]:.0%})")
            _show(out, fig)

    def new_image(change):
        predicted = int(probs[change["new"]].argmax())
        if class_d.value != predicted:
            class_d.value = predicted  # follow the prediction; the class observer redraws
        else:
            redraw()

    return _explorer({"image": image_s, "class": class_d, **controls}, [["image", "class"], list(controls)], out,
                     redraw, {"image": new_image})


def saliency_explorer(cm: ModelLike, images: np.ndarray, methods: Sequence[str] | None = None,
                      titles: Sequence[str] | None = None):
    """Sliders for image, class and saliency method over ``images`` ``(N, H, W, 3)`` in [0, 1]:
    image, map and overlay side by side. SmoothGrad and Integrated Gradients show a map from 2 samples
    (steps) first, then the full one (:func:`course_utils.attribution.saliency_stages`); guided backprop
    runs compiled, traced when the explorer is built. Introduced in notebooks/01_saliency_maps.ipynb."""
    import ipywidgets as W

    from course_utils.attribution import METHODS, input_gradients, saliency_stages

    cm = course_model(cm)
    methods = list(methods or METHODS)
    if "guided_backprop" in methods:  # trace the guided pass now, not on the first visit of the method
        input_gradients(cm.model, cm.preprocess(cm.check_images(images)[:1]), 0, guided=True)
    method_d = W.Dropdown(options=methods, value=methods[0], description="method")

    def stages(x, c):  # drawn clipped at the 99th percentile: a few extreme pixels would leave the rest black
        for label, maps in saliency_stages(cm.model, x, c, method_d.value):
            top = np.percentile(maps[0], 99)
            yield f"{label}, clipped at p99", np.clip(maps[0] / top, 0, 1) if top > 0 else maps[0]

    return _heatmap_explorer(cm, images, {"method": method_d}, stages, "gray", titles)


def feature_explorer(cm: ModelLike, layers: Sequence[str] | None = None, steps: int = 32):
    """Sliders for layer, channel and parameterization; each change renders the image that maximizes
    the channel, with the standard transforms (the library's default recipe). One compiled
    :class:`~course_utils.optimization.Renderer` per (layer,
    parameterization) with the channel in a ``tf.Variable``, so moving the channel slider never
    retraces. Introduced in notebooks/02_optimize_image_wrt_neuron.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from course_utils import optimization as opt

    cm = course_model(cm)
    layers = list(layers or cm.feature_layers)
    size = cm.input_size[0]
    params = {"fourier": lambda: opt.Fourier(1, size), "pixels": lambda: opt.Pixels(1, size),
              "pixels, decorrelated": lambda: opt.Pixels(1, size, decorrelate=True)}
    widths = {l: int(a.shape[-1]) for l, a in zip(layers, get_activations(
        cm.model, np.zeros((1, *cm.input_size, 3), np.float32), layers))}
    layer_d = W.Dropdown(options=layers, value=layers[-1], description="layer")
    channel_s = W.IntSlider(value=0, min=0, max=widths[layers[-1]] - 1, description="channel")
    param_d = W.Dropdown(options=list(params), value="fourier", description="image as")
    out = W.Image(format="jpeg")
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
        axes[0].set_title(f"{layer_d.value}: channel {channel_s.value}", fontsize=plotting.TITLE)
        axes[0].set_axis_off()
        axes[1].plot(history[:, 0])
        axes[1].set_xlabel("step")
        axes[1].set_title("mean activation", fontsize=plotting.TITLE)
        fig.tight_layout()
        _show(out, fig)

    return _explorer({"layer": layer_d, "channel": channel_s, "image as": param_d}, [["layer", "channel", "image as"]],
                     out, redraw)


def inversion_explorer(cm: ModelLike, image: np.ndarray, layers: Sequence[str] | None = None, steps: int = 36):
    """Sliders for layer and total-variation weight; each change inverts ``image`` ``(H, W, 3)`` from
    that layer. One compiled renderer per layer, the weight in a ``tf.Variable``.
    Introduced in notebooks/03_optimize_image_wrt_content.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from course_utils import optimization as opt
    from course_utils.metrics import psnr

    cm = course_model(cm)
    layers = list(layers or cm.feature_layers)
    if np.ndim(image) != 3:
        raise ValueError(f"image of shape {np.shape(image)}: expected one image ({cm.input_size[0]}, "
                         f"{cm.input_size[1]}, 3); pick one with images[i]")
    image = cm.check_images(image)[0]
    x0 = cm.preprocess(image)
    layer_d = W.Dropdown(options=layers, value=layers[0], description="layer")
    tv_s = W.FloatLogSlider(value=0.5, base=10, min=-3, max=1, step=0.5, description="TV weight")
    out = W.Image(format="jpeg")
    weight = tf.Variable(0.5)

    def renderer(layer):
        objective = opt.feature_match(layer, get_activations(cm.model, x0, layer)) - opt.total_variation() * weight
        # inversion matches one fixed image's activations: no transforms
        r = opt.Renderer(cm, objective, opt.Pixels(1, cm.input_size[0], std=0.5), transforms=())
        r.run(1, progress=False)  # trace the step now, not on the first slider move
        return r

    renderers = {layer: renderer(layer) for layer in layers}  # compiled up front: sliders never retrace

    def redraw(*_):
        weight.assign(tv_s.value)
        inverted = renderers[layer_d.value].run(steps, progress=False)[0][0]
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
        axes[0].imshow(image)
        axes[0].set_title("original", fontsize=plotting.TITLE)
        axes[1].imshow(inverted)
        axes[1].set_title(f"from {layer_d.value}: PSNR {psnr(inverted[None], image[None])[0]:.1f} dB",
                          fontsize=plotting.TITLE)
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        _show(out, fig)

    return _explorer({"layer": layer_d, "TV weight": tv_s}, [["layer", "TV weight"]], out, redraw)


def dream_explorer(cm: ModelLike, images: np.ndarray, layers: Sequence[str] | None = None, size: int = 112, steps: int = 6,
                   octaves: int = 2, octave_scale: float = 1.4, step_size: float = 0.015):
    """Sliders for image, steps, octaves and one weight per layer; each change dreams the image
    (resized to ``size`` px) with :func:`course_utils.dream.dream`. All layers share one compiled step
    (a weight of 0 switches a layer off), so no slider retraces. The defaults answer in about 0.4 s
    on the bundled models. Introduced in notebooks/04_deep_dream.ipynb."""
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from course_utils.dream import dream, dreamer

    cm = course_model(cm)
    default = cm.dream_layers
    if layers is None:
        order = {p: k for k, p in enumerate(layer_paths(cm.model))}
        layers = sorted(dict.fromkeys([*cm.feature_layers, *default]), key=lambda p: order.get(p, len(order)))
    layers = list(layers)
    shown = np.stack([resize(np.asarray(im, np.float32), size) for im in images])
    low = dreamer(cm, layers).min_side()
    max_octaves = max(1, min(4, 1 + int(np.log(size / low) / np.log(octave_scale))))
    image_s = W.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    steps_s = W.IntSlider(value=steps, min=1, max=max(40, steps), description="steps/octave")
    octaves_s = W.IntSlider(value=min(octaves, max_octaves), min=1, max=max_octaves, description="octaves")
    weight_s = [W.FloatSlider(value=default.get(p, 0.0), min=0.0, max=2.5, step=0.25, description=p.split("/")[-1])
                for p in layers]
    out = W.Image(format="jpeg")

    def redraw(*_):
        weights = {p: s.value for p, s in zip(layers, weight_s)}
        result = dream(cm, shown[image_s.value], weights, steps=steps_s.value, octaves=octaves_s.value,
                       octave_scale=octave_scale, step_size=step_size, progress=False)
        used = " + ".join(f"{w:g}*{p.split('/')[-1]}" for p, w in weights.items() if w) or "all weights 0: no change"
        fig = plt.figure(figsize=(6.4, 3.4))
        ax = fig.add_axes((0, 0, 1, 0.86))  # one mosaic, one imshow, no tight_layout: keeps a redraw fast
        ax.imshow(plotting.tile(np.stack([shown[image_s.value], result.image]), 2, pad=4), interpolation="nearest")
        ax.set_title(f"image {image_s.value} | dream: {used}\nobjective {result.before:.3g} -> {result.after:.3g}",
                     fontsize=plotting.TITLE)
        ax.set_axis_off()
        _show(out, fig)

    controls = {"image": image_s, "steps/octave": steps_s, "octaves": octaves_s, **dict(zip(layers, weight_s))}
    return _explorer(controls, [["image", "steps/octave", "octaves"], layers[:4], layers[4:]], out, redraw)


def embedding_explorer(cm: ModelLike, images: np.ndarray, labels: np.ndarray, layers: Sequence[str] | None = None,
                       vectors: dict | None = None, predicted: np.ndarray | None = None,
                       methods: Sequence[str] = ("tsne", "umap", "pca"), grid: int = 8, min_count: int = 3,
                       seed: int = 0, max_members: int = 16):
    """Dropdowns for layer and projection method, a slider for the method's main parameter (perplexity
    for t-SNE, n_neighbors for UMAP), and row/column sliders that pick a cell of a ``grid`` x ``grid``
    binning of the layout: the layout of ``images`` ``(N, H, W, 3)`` coloured by ``labels`` ``(N,)``
    (misclassified points ringed), the picked cell framed, and the cell's member images.

    Activations are computed once for every layer (one forward pass; or pass ``vectors`` ``{layer: (N, C)}``
    from :func:`course_utils.embedding.layer_vectors`) and layouts are memoized by
    :func:`course_utils.embedding.project`, so revisiting a (layer, method, parameter) or picking a
    cell only redraws. A *new* t-SNE or UMAP layout of 2,000 points takes seconds, not the 0.5 s of a
    redraw: the figure's title says how long it took. Introduced in notebooks/07_activation_atlas.ipynb.
    """
    import time

    import ipywidgets as W
    import matplotlib.pyplot as plt

    from course_utils import embedding

    cm = course_model(cm)
    layers = list(layers or (vectors.keys() if vectors else cm.feature_layers))
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels of shape {labels.shape}: expected one class index per image, ({len(images)},)")
    if vectors is None:
        vectors, logits = embedding.layer_vectors(cm, images, layers, logits=True)
        predicted = logits.argmax(-1) if predicted is None else predicted
    missing = [layer for layer in layers if layer not in vectors]
    if missing:
        raise ValueError(f"vectors has no entry for layers {missing}: expected keys {layers}")
    predicted = cm.predict(images).argmax(-1) if predicted is None else np.asarray(predicted)
    wrong = predicted != labels
    defaults = {m: embedding.PARAMETER[m] for m in methods}
    layer_d = W.Dropdown(options=layers, value=layers[-1], description="layer")
    method_d = W.Dropdown(options=list(methods), value=methods[0], description="method")
    param_s = W.IntSlider(value=defaults[methods[0]][1] or 15, min=5, max=50, step=5,
                          description=defaults[methods[0]][0] or "parameter", disabled=defaults[methods[0]][0] is None)
    row_s = W.IntSlider(value=grid // 2, min=0, max=grid - 1, description="cell row")
    col_s = W.IntSlider(value=grid // 2, min=0, max=grid - 1, description="cell column")
    out = W.Image(format="jpeg")
    state = {"quiet": False}

    def redraw(*_):
        if state["quiet"]:
            return
        layer, method = layer_d.value, method_d.value
        name = defaults[method][0]
        start = time.perf_counter()
        xy = embedding.project(vectors[layer], method, seed=seed, **({name: param_s.value} if name else {}))
        took = time.perf_counter() - start
        cells = embedding.grid_cells(xy, grid=grid, min_count=min_count)
        members = cells.members(row_s.value, col_s.value)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
        fig.subplots_adjust(0.01, 0.01, 0.99, 0.93, wspace=0.04)  # fixed: tight_layout costs 0.1 s
        title = f"{layer}: {method}" + (f" ({name}={param_s.value})" if name else "")
        title += f", computed in {took:.1f} s (now cached)" if took > 0.5 else ""
        plotting.plot_layout(xy, labels, cm.class_names, wrong=wrong, ax=axes[0], title=title)
        x0, x1, y0, y1 = cells.extent
        for k in range(1, grid):
            axes[0].axvline(x0 + k * (x1 - x0) / grid, color="0.85", lw=0.5, zorder=0)
            axes[0].axhline(y0 + k * (y1 - y0) / grid, color="0.85", lw=0.5, zorder=0)
        bx0, bx1, by0, by1 = cells.cell_box(row_s.value, col_s.value)
        axes[0].add_patch(plt.Rectangle((bx0, by0), bx1 - bx0, by1 - by0, fill=False, ec="k", lw=2, zorder=3))
        axes[1].set_axis_off()
        if len(members):
            shown = members[:max_members]
            axes[1].imshow(plotting.tile(images[shown], 4, pad=2), interpolation="nearest")
            counts = np.bincount(labels[members], minlength=len(cm.class_names))
            axes[1].set_title(f"cell ({row_s.value}, {col_s.value}): {len(members)} images, "
                              f"{counts.max()} {cm.class_names[counts.argmax()]}, {int(wrong[members].sum())} "
                              f"misclassified" + (f" (first {len(shown)} shown)" if len(shown) < len(members) else ""),
                              fontsize=plotting.TITLE)
        else:
            axes[1].text(0.5, 0.5, f"cell ({row_s.value}, {col_s.value}) is empty", ha="center", va="center")
        _show(out, fig)

    def new_method(change):
        name, value = defaults[change["new"]]
        state["quiet"] = True  # one redraw for the method and its parameter together
        param_s.description, param_s.disabled = name or "parameter", name is None
        if value is not None:
            param_s.value = value
        state["quiet"] = False
        redraw()

    controls = {"layer": layer_d, "method": method_d, "parameter": param_s, "cell row": row_s, "cell column": col_s}
    return _explorer(controls, [["layer", "method", "parameter"], ["cell row", "cell column"]], out, redraw,
                     {"method": new_method})


def cam_explorer(cm: ModelLike, images: np.ndarray, layers: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                 titles: Sequence[str] | None = None):
    """Controls for image, class, layer and CAM method (:mod:`course_utils.cam`) over ``images``
    ``(N, H, W, 3)`` in [0, 1]: the image, the heatmap, and the overlay. ``layers`` default to the model's
    last conv layers; their gradient passes are traced together when the explorer is built
    (:func:`course_utils.cam.compile_layers`), so a layer change never waits for a trace.
    Introduced in notebooks/06_grad_cam.ipynb."""
    import ipywidgets as W

    from course_utils.attribution import input_gradients
    from course_utils.cam import METHODS, check_layer, compile_layers, heatmap

    cm = course_model(cm)
    layers = [check_layer(cm.model, name) for name in (layers or cm.conv_layers[-3:] + [cm.last_conv_layer])]
    layers = list(dict.fromkeys(layers))
    methods = list(methods or [m for m in METHODS if m not in ("cam", "score_cam")])  # Score-CAM: a pass per map
    compile_layers(cm.model, layers)
    if "guided_grad_cam" in methods:  # trace the guided pass now, not on the first visit of the method
        input_gradients(cm.model, cm.preprocess(cm.check_images(images)[:1]), 0, guided=True)
    layer_d = W.Dropdown(options=layers, value=layers[-1], description="layer")
    method_d = W.Dropdown(options=methods, value=methods[0], description="method")

    def stages(x, c):
        yield (f"{method_d.value} @ {layer_d.value}",
               heatmap(cm.model, x, c, layer_d.value, method_d.value, compiled=True)[0])

    return _heatmap_explorer(cm, images, {"layer": layer_d, "method": method_d}, stages, "jet", titles)


def cue_explorer(models: Sequence[ModelLike], n: int = 200, seed: int = 8, target: int | None = None):
    """Paint the items of one class in one hue and watch what ``models`` (bundled scene models) call them.

    Controls: the painted ``class`` and its ``hue`` in degrees (:class:`~course_utils.data.FashionScenes`
    ``colour_class``, ``colour_hue``). Draws 8 of the painted items and, for each model, the share of the
    painted items in ``n`` held-out scenes (seed ``seed``) that it assigns to each class; ``target`` (a class
    index) is marked. A change regenerates the ``n`` scenes: 0.45-0.52 s a move for 200 (``make bench``). Introduced in
    notebooks/08_shortcuts_and_training.ipynb."""
    import ipywidgets as W

    from course_utils.data import CLASS_NAMES, FashionScenes

    cms = [course_model(m) for m in models]
    if not cms or any(m.tier != "bundled" for m in cms):
        raise ValueError(f"models={[m.name for m in cms]}: expected one or more bundled scene models (fashion_*)")
    if not isinstance(n, (int, np.integer)) or n < 20:
        raise ValueError(f"n={n!r}: expected at least 20 scenes (about 2 items of each class per 20)")
    if target is not None and target not in range(len(CLASS_NAMES)):
        raise ValueError(f"target={target!r}: expected None or a class index in [0, {len(CLASS_NAMES) - 1}]")
    class_d = W.Dropdown(options=[(name, k) for k, name in enumerate(CLASS_NAMES)], value=0, description="class")
    hue_s = W.IntSlider(value=0, min=0, max=345, step=15, description="hue (deg)")
    out = W.Image(format="jpeg")

    def redraw(*_):
        c = class_d.value
        scenes = FashionScenes("test", seed=seed, colour_class=c, colour_hue=hue_s.value / 360).generate(n)
        items = scenes[scenes.label == c]
        fig, axes = _panels((12, 4.2), [1, 2.2], top=0.86)
        axes[1].set_position((0.39, 0.24, 0.6, 0.62))  # room for the y label and the slanted class names
        axes[0].imshow(plotting.tile(items.images[:8], 4, pad=2))
        axes[0].set_title(f"{CLASS_NAMES[c]}s painted at hue {hue_s.value} deg\n({len(items)} of {n} scenes)",
                          fontsize=plotting.TITLE)
        ax, k = axes[1], np.arange(len(CLASS_NAMES))
        ax.set_axis_on(); ax.xaxis.set_visible(True); ax.yaxis.set_visible(True)
        width = 0.8 / len(cms)
        for j, m in enumerate(cms):
            share = np.bincount(m.predict(items.images).argmax(1), minlength=len(CLASS_NAMES)) / max(len(items), 1)
            ax.bar(k + (j - (len(cms) - 1) / 2) * width, share, width, label=m.name)
        if target is not None:
            ax.axvspan(target - 0.45, target + 0.45, color="0.9", zorder=0)
        ax.set_xticks(k, CLASS_NAMES, fontsize=plotting.TITLE - 1, rotation=30, ha="right", rotation_mode="anchor")
        ax.tick_params(axis="y", labelsize=plotting.TITLE - 1)
        ax.set_ylim(0, 1); ax.set_ylabel("share of the painted items", fontsize=plotting.TITLE)
        ax.legend(fontsize=plotting.TITLE)
        ax.set_title("what each model calls them", fontsize=plotting.TITLE)
        _show(out, fig)

    return _explorer({"class": class_d, "hue": hue_s}, [["class", "hue"]], out, redraw)

"""Optimize an input image: feature visualization, feature inversion, (later) Deep Dream.

Three composable parts joined by one loop, in the style of Lucid (Olah et al. 2017,
https://distill.pub/2017/feature-visualization/):

- **objectives** (:class:`Objective`): what to maximize, from a dict of activations; combine with
  ``+``, ``-`` and ``*`` (e.g. ``channel("block3_conv2", 5) - 0.05 * total_variation()``);
- **parameterizations** (:class:`Pixels`, :class:`Fourier`): how a batch of images in [0, 1] is made
  from trainable variables (Fourier + decorrelated colour is a strong prior against high-frequency noise);
- **transforms** (:func:`standard_transforms`): random jitter, scale and rotation applied every step,
  so the image must excite the unit robustly (transformation robustness).

:func:`render` runs gradient ascent. ``COURSE_MAX_STEPS`` in the environment caps its steps
(fast test runs). Introduced in notebooks/02_optimize_image_wrt_neuron.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from course_utils.activations import feature_model, find_layer
from course_utils.base import ModelLike, capped_steps
from course_utils.models import course_model

IMAGE = "__image__"    # key of the image batch itself in the activations dict (for priors)
LOGITS = "__logits__"  # key of the model's logits


@dataclass(frozen=True)
class Objective:
    """A differentiable score ``fn(acts) -> (N,)`` over the activations of ``layers`` (a tuple of
    paths, plus :data:`IMAGE` / :data:`LOGITS`). Higher is better; :func:`render` maximizes the sum."""

    fn: Callable
    layers: tuple[str, ...]
    name: str
    channels: tuple[tuple[str, int], ...] = ()  # (layer, channel) pairs the Renderer checks exist

    def __call__(self, acts):
        return self.fn(acts)

    def __add__(self, other: "Objective") -> "Objective":
        return Objective(lambda a: self(a) + other(a), _merge(self.layers, other.layers), f"{self.name} + {other.name}",
                         self.channels + other.channels)

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-1.0) * other

    def __mul__(self, k) -> "Objective":
        """Scale by a number, or by a ``tf.Variable`` (changeable between runs of a :class:`Renderer`):
        write ``objective * variable``, with the variable on the right (see :meth:`__rmul__`)."""
        label = f"{k:g}" if isinstance(k, (int, float)) else "k"
        return Objective(lambda a: k * self(a), self.layers, f"{label} * {self.name}", self.channels)

    def __rmul__(self, k) -> "Objective":
        """``k * objective``. For ``variable * objective`` TensorFlow hands over a *copy* of the variable's
        current value (not the variable), so later ``assign`` s would be ignored: that case warns."""
        import tensorflow as tf

        if isinstance(k, tf.Tensor) and not isinstance(k, tf.Variable):
            import warnings

            warnings.warn("tensor * objective: if that tensor is a tf.Variable, TensorFlow passed a copy of its value "
                          "and later assign() calls will be ignored; write objective * variable instead", stacklevel=2)
        return self * k

    def __neg__(self) -> "Objective":
        return -1.0 * self


def _merge(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*a, *b]))


def channel(layer: str, c: int | Sequence[int]) -> Objective:
    """Mean activation of channel ``c`` of ``layer`` over all positions. With a list, image ``i`` of
    the batch gets channel ``c[i]`` (one render for many channels)."""
    import tensorflow as tf

    if isinstance(c, tf.Variable):  # can change between Renderer runs; the widget keeps it in range
        return Objective(lambda a: tf.reduce_mean(tf.gather(a[layer], c, axis=-1), axis=(1, 2)), (layer,),
                         f"channel({layer}, variable)")
    if isinstance(c, (int, np.integer)):
        return Objective(lambda a: tf.reduce_mean(a[layer][..., c], axis=(1, 2)), (layer,),
                         f"channel({layer}, {c})", ((layer, int(c)),))
    index = tf.constant(np.asarray(c, np.int32))
    return Objective(lambda a: tf.gather(tf.reduce_mean(a[layer], axis=(1, 2)), index, batch_dims=1), (layer,),
                     f"channels({layer}, {list(c)})", tuple((layer, int(k)) for k in c))


def neuron(layer: str, c: int, y: int | None = None, x: int | None = None) -> Objective:
    """Activation of channel ``c`` at one spatial position (default: the centre) of ``layer``."""

    def fn(a):
        t = a[layer]
        yy = t.shape[1] // 2 if y is None else y
        xx = t.shape[2] // 2 if x is None else x
        for name, value, size in (("y", yy, t.shape[1]), ("x", xx, t.shape[2])):
            if not 0 <= value < size:
                raise ValueError(f"neuron({layer!r}, {c}): {name}={value} is out of range: expected 0 <= {name} < {size}")
        return t[:, yy, xx, c]

    return Objective(fn, (layer,), f"neuron({layer}, {c}, y={y}, x={x})", ((layer, int(c)),))


def class_logit(c: int | Sequence[int]) -> Objective:
    """The logit of class ``c``. With a list, image ``i`` of the batch gets class ``c[i]``."""
    import tensorflow as tf

    if isinstance(c, (int, np.integer)):
        return Objective(lambda a: a[LOGITS][:, c], (LOGITS,), f"class_logit({c})", ((LOGITS, int(c)),))
    index = tf.constant(np.asarray(c, np.int32))
    return Objective(lambda a: tf.gather(a[LOGITS], index, batch_dims=1), (LOGITS,), f"class_logits({list(c)})",
                     tuple((LOGITS, int(k)) for k in c))


def direction(layer: str, vector: np.ndarray) -> Objective:
    """Mean over positions of the dot product of ``layer``'s activations with ``vector`` ``(channels,)``
    (an activation-atlas cell's average activation, for instance)."""
    import tensorflow as tf

    vector = np.asarray(vector, np.float64)
    v = tf.constant((vector / (np.linalg.norm(vector) + 1e-8)).astype(np.float32))

    def fn(a):
        if vector.shape != (a[layer].shape[-1],):
            raise ValueError(f"direction vector of shape {vector.shape}: expected ({a[layer].shape[-1]},), one value "
                             f"per channel of {layer}")
        return tf.reduce_mean(tf.tensordot(a[layer], v, 1), axis=(1, 2))

    return Objective(fn, (layer,), f"direction({layer})")


def feature_match(layer: str, target: np.ndarray) -> Objective:
    """Negative relative squared distance ``-||a - target||^2 / ||target||^2`` between ``layer``'s
    activations and ``target`` ``(1 or N, h, w, c)``: maximizing it inverts the representation
    (Mahendran & Vedaldi 2015, arXiv:1412.0035). Introduced in notebooks/03."""
    import tensorflow as tf

    t = tf.constant(np.asarray(target, np.float32))
    norm = float(np.mean(np.square(target))) + 1e-8

    def fn(a):
        want = tuple(a[layer].shape[1:])
        if t.shape.rank != 4 or tuple(t.shape[1:]) != want:
            raise ValueError(f"target of shape {tuple(t.shape)}: expected the activations of {layer}, "
                             f"(1, {', '.join(map(str, want))}) or one per image")
        return -tf.reduce_mean(tf.square(a[layer] - t), axis=(1, 2, 3)) / norm

    return Objective(fn, (layer,), f"feature_match({layer})")


def diversity(layer: str) -> Objective:
    """Negative mean cosine similarity between the Gram-style channel profiles of the images in the
    batch (Lucid's diversity term): rewards a batch whose images differ in style."""
    import tensorflow as tf

    def fn(a):
        t = a[layer]
        n = tf.shape(t)[0]
        flat = tf.reshape(t, (n, -1, t.shape[-1]))
        gram = tf.reshape(tf.matmul(flat, flat, transpose_a=True), (n, -1))
        gram = tf.math.l2_normalize(gram, axis=1)
        sim = tf.matmul(gram, gram, transpose_b=True)
        off = (tf.reduce_sum(sim, axis=1) - 1.0) / tf.maximum(tf.cast(n, tf.float32) - 1.0, 1.0)
        return -off

    return Objective(fn, (layer,), f"diversity({layer})")


def total_variation() -> Objective:
    """Mean absolute difference between neighbouring pixels of the image (a smoothness prior:
    subtract it)."""
    import tensorflow as tf

    def fn(a):
        img = a[IMAGE]
        dy = tf.reduce_mean(tf.abs(img[:, 1:] - img[:, :-1]), axis=(1, 2, 3))
        dx = tf.reduce_mean(tf.abs(img[:, :, 1:] - img[:, :, :-1]), axis=(1, 2, 3))
        return dx + dy

    return Objective(fn, (IMAGE,), "total_variation")


def l2(center: float = 0.5) -> Objective:
    """Mean squared distance of the pixels from ``center`` (a prior against saturated images: subtract it)."""
    import tensorflow as tf

    return Objective(lambda a: tf.reduce_mean((a[IMAGE] - center) ** 2, axis=(1, 2, 3)), (IMAGE,), "l2")


# ---- parameterizations --------------------------------------------------------------------------------------

# Colour correlation of natural images (Lucid, ImageNet): its Cholesky factor, rows scaled to unit max norm.
_COLOR_CORR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_COLOR_CORR = _COLOR_CORR / np.max(np.linalg.norm(_COLOR_CORR, axis=0))


class Pixels:
    """Each pixel is a variable: ``image = sigmoid(v)`` (``decorrelate`` mixes colours first)."""

    def __init__(self, n: int, size: int, seed: int = 0, std: float = 0.01, decorrelate: bool = False,
                 init: np.ndarray | None = None):
        import tensorflow as tf

        rng = np.random.default_rng(seed)
        if init is not None:  # start from given images in [0, 1]
            v = np.log(np.clip(init, 1e-3, 1 - 1e-3) / (1 - np.clip(init, 1e-3, 1 - 1e-3))).astype(np.float32)
            decorrelate = False
        else:
            v = (std * rng.standard_normal((n, size, size, 3))).astype(np.float32)
        self.decorrelate = decorrelate
        self.variables = [tf.Variable(v)]

    def __call__(self):
        import tensorflow as tf

        v = self.variables[0]
        if self.decorrelate:
            v = tf.tensordot(v, tf.constant(_COLOR_CORR.T), 1)
        return tf.sigmoid(v)


class Fourier:
    """The image is the inverse FFT of a trainable spectrum scaled by ``1 / frequency ** decay``
    (natural images' spectrum), with decorrelated colour, then a sigmoid. Gradient steps then change
    low frequencies first, which avoids the high-frequency noise of :class:`Pixels`."""

    def __init__(self, n: int, size: int, seed: int = 0, std: float = 0.05, decay: float = 1.0):
        import tensorflow as tf

        fy = np.fft.fftfreq(size)[:, None]
        fx = np.fft.rfftfreq(size)[None, :]
        freqs = np.sqrt(fx ** 2 + fy ** 2)
        self.scale = tf.constant((1.0 / np.maximum(freqs, 1.0 / size) ** decay * size / 4)[None, None],
                                 tf.complex64)  # (1, 1, size, size // 2 + 1)
        rng = np.random.default_rng(seed)
        shape = (n, 3, size, size // 2 + 1)
        self.size = size
        self.variables = [tf.Variable((std * rng.standard_normal((*shape, 2))).astype(np.float32))]

    def __call__(self):
        import tensorflow as tf

        v = self.variables[0]
        spectrum = tf.complex(v[..., 0], v[..., 1]) * self.scale
        img = tf.signal.irfft2d(spectrum, fft_length=[self.size, self.size])  # (n, 3, size, size)
        img = tf.transpose(img, (0, 2, 3, 1))
        return tf.sigmoid(tf.tensordot(img, tf.constant(_COLOR_CORR.T), 1))


# ---- transforms ---------------------------------------------------------------------------------------------

def jitter(d: int) -> Callable:
    """Random translation by up to ``d`` pixels (crop of a reflect-padded image)."""
    import tensorflow as tf

    if not isinstance(d, (int, np.integer)) or d < 0:
        raise ValueError(f"d={d!r}: expected a whole number of pixels >= 0")

    def t(img):
        h, w = img.shape[1], img.shape[2]
        padded = tf.pad(img, [[0, 0], [d, d], [d, d], [0, 0]], mode="REFLECT")
        oy, ox = tf.random.uniform((), 0, 2 * d + 1, tf.int32), tf.random.uniform((), 0, 2 * d + 1, tf.int32)
        return tf.ensure_shape(padded[:, oy:oy + h, ox:ox + w], [None, h, w, img.shape[3]])

    return t


def random_scale(scales: Sequence[float]) -> Callable:
    """Resize by a factor drawn from ``scales``, then crop or pad back to the original size."""
    import tensorflow as tf

    if len(scales) == 0 or min(scales) <= 0:
        raise ValueError(f"scales={list(scales)!r}: expected a non-empty list of positive factors such as [0.95, 1.05]")

    scales = tf.constant(list(scales), tf.float32)

    def t(img):
        h, w = img.shape[1], img.shape[2]
        s = tf.gather(scales, tf.random.uniform((), 0, len(scales), tf.int32))
        size = tf.cast(tf.round(s * tf.constant([h, w], tf.float32)), tf.int32)
        return tf.image.resize_with_crop_or_pad(tf.image.resize(img, size), h, w)

    return t


def random_rotate(degrees: float) -> Callable:
    """Rotate by an angle drawn uniformly from ``[-degrees, degrees]`` about the centre."""
    import tensorflow as tf

    def t(img):
        h, w = img.shape[1], img.shape[2]
        a = tf.random.uniform((), -degrees, degrees) * np.pi / 180
        c, s = tf.cos(a), tf.sin(a)
        cy, cx = (h - 1) / 2, (w - 1) / 2
        transform = tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0.0, 0.0])
        n = tf.shape(img)[0]
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=img, transforms=tf.tile(transform[None], [n, 1]), output_shape=[h, w],
            interpolation="BILINEAR", fill_mode="REFLECT", fill_value=0.0)

    return t


def standard_transforms(size: int) -> list[Callable]:
    """Lucid's standard robustness transforms, scaled to the image ``size`` (224 -> jitter 8)."""
    d = max(1, round(size / 28))
    return [jitter(d), random_scale([1 + (i - 5) / 50 for i in range(11)]), random_rotate(10), jitter(max(1, d // 2))]


# ---- the loop -----------------------------------------------------------------------------------------------

class Renderer:
    """A compiled optimization loop for one (model, objective, parameterization, transforms).

    :meth:`run` resets the image and the optimizer and runs ``steps`` gradient-ascent steps without
    retracing, so a widget can re-render many times: change the ``tf.Variable`` s an objective was
    built with (a channel index, a prior's weight) between runs. :func:`render` is the one-shot form.
    """

    def __init__(self, cm: ModelLike, objective: Objective, param=None, transforms: Sequence[Callable] | None = (),
                 learning_rate: float = 0.05, n: int = 1, seed: int = 0):
        cm = course_model(cm)
        import keras
        import tensorflow as tf

        tf.random.set_seed(seed)
        self.objective = objective
        self.param = param or Fourier(n, cm.input_size[0], seed=seed)
        self._initial = [v.numpy() for v in self.param.variables]
        shape = tuple(self.param().shape)
        fixed = tuple(cm.model.inputs[0].shape[1:3])  # (None, None) for a model that takes any size
        if None not in fixed and shape[1:3] != fixed:
            raise ValueError(f"the parameterization makes images of shape {shape}: {cm.name} takes "
                             f"{fixed[0]}x{fixed[1]} inputs; use Pixels(n, {fixed[0]}) or Fourier(n, {fixed[0]})")
        transforms = standard_transforms(shape[1]) if transforms is None else list(transforms)
        layers = [p for p in objective.layers if p not in (IMAGE, LOGITS)]
        for p in layers:
            find_layer(cm.model, p)
        for p, c in objective.channels:
            width = cm.model.outputs[0].shape[-1] if p == LOGITS else find_layer(cm.model, p).output.shape[-1]
            if not 0 <= c < width:
                what = "class" if p == LOGITS else f"channel of {p}"
                raise ValueError(f"{what} {c} is out of range: expected 0 <= {what.split()[0]} < {width}")
        sub = feature_model(cm.model, layers)
        outs = sub(cm.preprocess_tensor(self.param()), training=False)  # one eager pass: an objective that does
        outs = outs if isinstance(outs, (list, tuple)) else [outs]      # not fit its layer fails here, clearly
        objective({**dict(zip(layers, outs[:len(layers)])), LOGITS: outs[-1], IMAGE: self.param()})
        self.optimizer = keras.optimizers.Adam(learning_rate)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                image = self.param()
                t = image
                for transform in transforms:
                    t = transform(t)
                outs = sub(cm.preprocess_tensor(t), training=False)
                outs = outs if isinstance(outs, (list, tuple)) else [outs]
                acts = dict(zip(layers, outs[:len(layers)]))
                acts[LOGITS], acts[IMAGE] = outs[-1], image
                value = objective(acts)
                loss = -tf.reduce_sum(value)
            grads = tape.gradient(loss, self.param.variables)
            self.optimizer.apply_gradients(zip(grads, self.param.variables))
            return value

        self._step = step
        self._traced = False

    def run(self, steps: int = 256, progress: bool = True):
        """``(images (n, H, W, 3) in [0, 1], history (steps, n))`` from the initial image."""
        from tqdm.auto import tqdm

        for v, init in zip(self.param.variables, self._initial):
            v.assign(init)
        for v in self.optimizer.variables:  # Adam's step count and moments, not its learning rate
            if v.name != "learning_rate":
                v.assign(np.zeros(v.shape, v.dtype))
        history = [self._call_step().numpy()
                   for _ in tqdm(range(capped_steps(steps)), desc=self.objective.name[:40], disable=not progress, leave=False)]
        return self.param().numpy(), np.array(history)

    def _call_step(self):
        """Run one step; the first call traces it. TF counts the traces of every Renderer's step
        together and warns of "retracing" after five, although each Renderer traces only once:
        that one warning is silenced here (a real retrace of one Renderer would still warn later)."""
        if self._traced:
            return self._step()
        import logging

        import tensorflow as tf

        logger = tf.get_logger()
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            return self._step()
        finally:
            logger.setLevel(level)
            self._traced = True


def render(cm: ModelLike, objective: Objective, param=None, transforms: Sequence[Callable] | None = (), steps: int = 256,
           learning_rate: float = 0.05, n: int = 1, seed: int = 0, progress: bool = True):
    """Maximize ``objective`` over images made by ``param`` (default :class:`Fourier`) with Adam.

    Args:
        cm: a :class:`course_utils.models.CourseModel` or ``keras.Model`` (preprocessing applied inside the loop).
        param: images of the model's input size, or of any size for a model that takes any
            (``efficientnet_lite0``: ``Fourier(4, 128)`` renders 128 px images).
        transforms: applied in order to the image batch every step (``None``: :func:`standard_transforms`).
        steps: gradient steps (capped by ``COURSE_MAX_STEPS``); ``n``: images optimized together.
    Returns: ``(images (n, H, W, 3) in [0, 1], history)`` where ``history`` is the objective per step ``(steps, n)``.
    """
    cm = course_model(cm)
    return Renderer(cm, objective, param, transforms, learning_rate, n, seed).run(steps, progress)

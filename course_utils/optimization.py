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

Every number is checked where it enters (:func:`course_utils.base.check_number`): channels, classes and
positions are whole numbers (``3.0`` is taken as 3; ``3.5``, NaN, inf and True are errors), learning
rates, sizes and steps positive; a render that still ends in NaN raises instead of returning NaN images.
"""

from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from course_utils.activations import feature_model
from course_utils.layers import find_layer
from course_utils.attribution import redirected_relus
from course_utils.base import ModelLike, capped_steps, check_finite, check_image_values, check_number, check_vectors
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
        if isinstance(k, numbers.Real):
            k = check_number("weight", k)
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


def _whole(name: str, value) -> int:
    """A channel, class or position: a whole number >= 0 (its upper end is checked by the Renderer)."""
    return check_number(name, value, 0, integer=True)


def channel(layer: str, c: int | Sequence[int]) -> Objective:
    """Mean activation of channel ``c`` of ``layer`` over all positions. With a list, image ``i`` of
    the batch gets channel ``c[i]`` (one render for many channels: ``n`` must be its length)."""
    import tensorflow as tf

    if isinstance(c, tf.Variable):  # can change between Renderer runs; the widget keeps it in range
        return Objective(lambda a: tf.reduce_mean(tf.gather(a[layer], c, axis=-1), axis=(1, 2)), (layer,),
                         f"channel({layer}, variable)")
    if np.ndim(c) == 0:
        c = _whole("channel", c)
        return Objective(lambda a: tf.reduce_mean(a[layer][..., c], axis=(1, 2)), (layer,),
                         f"channel({layer}, {c})", ((layer, int(c)),))
    if np.ndim(c) != 1 or len(c) == 0:
        raise ValueError(f"channel={c!r}: expected a channel index, or a non-empty list of them, one per image")
    c = [_whole("channel", k) for k in c]
    index = tf.constant(np.asarray(c, np.int32))
    return Objective(lambda a: tf.gather(tf.reduce_mean(a[layer], axis=(1, 2)), index, batch_dims=1), (layer,),
                     f"channels({layer}, {list(c)})", tuple((layer, int(k)) for k in c))


def neuron(layer: str, c: int, y: int | None = None, x: int | None = None) -> Objective:
    """Activation of channel ``c`` at one spatial position (default: the centre) of ``layer``."""
    c = _whole("channel", c)
    y, x = (None if v is None else _whole(name, v) for name, v in (("y", y), ("x", x)))

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
    """The logit of class ``c``. With a list, image ``i`` of the batch gets class ``c[i]`` (``n`` its length)."""
    import tensorflow as tf

    if np.ndim(c) == 0:
        c = _whole("class", c)
        return Objective(lambda a: a[LOGITS][:, c], (LOGITS,), f"class_logit({c})", ((LOGITS, int(c)),))
    if np.ndim(c) != 1 or len(c) == 0:
        raise ValueError(f"class={c!r}: expected a class index, or a non-empty list of them, one per image")
    c = [_whole("class", k) for k in c]
    index = tf.constant(np.asarray(c, np.int32))
    return Objective(lambda a: tf.gather(a[LOGITS], index, batch_dims=1), (LOGITS,), f"class_logits({c})",
                     tuple((LOGITS, int(k)) for k in c))


def direction(layer: str, vector: np.ndarray) -> Objective:
    """Mean over positions of the dot product of ``layer``'s activations with ``vector`` ``(channels,)``
    (an activation-atlas cell's average activation, for instance)."""
    import tensorflow as tf

    if np.ndim(vector) != 1:
        raise ValueError(f"direction vector of shape {np.shape(vector)}: expected (channels,), one value per channel")
    vector = check_vectors(np.asarray(vector)[None], "direction vector", nonzero=True)[0].astype(np.float64)
    v = tf.constant((vector / np.linalg.norm(vector)).astype(np.float32))

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

    t = tf.constant(check_finite(target, "target", "activations"))
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

    center = check_number("center", center, 0, 1)
    return Objective(lambda a: tf.reduce_mean((a[IMAGE] - center) ** 2, axis=(1, 2, 3)), (IMAGE,), "l2")


# ---- parameterizations --------------------------------------------------------------------------------------

# Colour correlation of natural images (Lucid, ImageNet): its Cholesky factor, rows scaled to unit max norm.
_COLOR_CORR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_COLOR_CORR = _COLOR_CORR / np.max(np.linalg.norm(_COLOR_CORR, axis=0))


def _batch(n, size, seed, std) -> tuple[int, int, int, float]:
    """Checked ``n`` images of ``size`` x ``size`` pixels, ``seed`` and initial noise ``std``."""
    return (check_number("n", n, 1, integer=True), check_number("size", size, 1, 4096, integer=True),
            check_number("seed", seed, 0, integer=True), check_number("std", std, 0))


class Pixels:
    """Each pixel is a variable: ``image = sigmoid(v)`` (``decorrelate`` mixes colours first).
    ``init``: start from these images ``(n, size, size, 3)`` (or one ``(size, size, 3)`` when ``n`` is 1)
    in [0, 1] or uint8, clipped to [0.001, 0.999] so the sigmoid can reach them."""

    def __init__(self, n: int, size: int, seed: int = 0, std: float = 0.01, decorrelate: bool = False,
                 init: np.ndarray | None = None):
        import tensorflow as tf

        n, size, seed, std = _batch(n, size, seed, std)
        rng = np.random.default_rng(seed)
        if init is not None:  # start from given images in [0, 1]
            init = check_image_values(np.asarray(init)[None] if np.ndim(init) == 3 else init, "init")
            if init.shape != (n, size, size, 3):
                raise ValueError(f"init of shape {np.shape(init)}: expected (n, size, size, 3) = ({n}, {size}, {size}, "
                                 "3) images; pass n and size to match them")
            init = np.clip(init, 1e-3, 1 - 1e-3)
            v = np.log(init / (1 - init)).astype(np.float32)
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

        n, size, seed, std = _batch(n, size, seed, std)
        decay = check_number("decay", decay, 0, 4)
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

    d = check_number("d", d, 0, integer=True)

    def t(img):
        h, w = img.shape[1], img.shape[2]
        if d >= min(h, w):
            raise ValueError(f"jitter d={d} on {h}x{w} images: expected d < {min(h, w)} (reflect padding)")
        padded = tf.pad(img, [[0, 0], [d, d], [d, d], [0, 0]], mode="REFLECT")
        oy, ox = tf.random.uniform((), 0, 2 * d + 1, tf.int32), tf.random.uniform((), 0, 2 * d + 1, tf.int32)
        return tf.ensure_shape(padded[:, oy:oy + h, ox:ox + w], [None, h, w, img.shape[3]])

    return t


def random_scale(scales: Sequence[float]) -> Callable:
    """Resize by a factor drawn from ``scales``, then crop or pad back to the original size."""
    import tensorflow as tf

    if np.ndim(scales) != 1 or len(scales) == 0:
        raise ValueError(f"scales={scales!r}: expected a non-empty list of positive factors such as [0.95, 1.05]")
    scales = tf.constant([check_number("scale", s, 0, 10, low_open=True) for s in scales], tf.float32)

    def t(img):
        h, w = img.shape[1], img.shape[2]
        s = tf.gather(scales, tf.random.uniform((), 0, len(scales), tf.int32))
        size = tf.maximum(tf.cast(tf.round(s * tf.constant([h, w], tf.float32)), tf.int32), 1)
        return tf.image.resize_with_crop_or_pad(tf.image.resize(img, size), h, w)

    return t


def random_rotate(degrees: float) -> Callable:
    """Rotate by an angle drawn uniformly from ``[-degrees, degrees]`` about the centre (0 <= degrees <= 180)."""
    import tensorflow as tf

    degrees = check_number("degrees", degrees, 0, 180)

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
    size = check_number("size", size, 1, integer=True)
    d = max(1, round(size / 28))
    return [jitter(d), random_scale([1 + (i - 5) / 50 for i in range(11)]), random_rotate(10), jitter(max(1, d // 2))]


#: Steps of a render that use the redirected ReLU gradient, as Lucid's ``redirected_relu_grad`` (16).
REDIRECT_STEPS = 16


# ---- the loop -----------------------------------------------------------------------------------------------

class Renderer:
    """A compiled optimization loop for one (model, objective, parameterization, transforms), with
    :func:`render`'s defaults (Fourier images, the standard transforms).

    :meth:`run` resets the image and the optimizer and runs ``steps`` gradient-ascent steps without
    retracing, so a widget can re-render many times: change the ``tf.Variable`` s an objective was
    built with (a channel index, a prior's weight) between runs. :func:`render` is the one-shot form.
    """

    def __init__(self, cm: ModelLike, objective: Objective, param=None, transforms: Sequence[Callable] | None = None,
                 learning_rate: float = 0.05, n: int | None = None, seed: int = 0, redirect: bool = False):
        cm = course_model(cm)
        import keras
        import tensorflow as tf

        self._redirecting = tf.Variable(False, trainable=False)  # on for the first REDIRECT_STEPS steps of a run
        self._relus = (lambda: redirected_relus(cm.model, self._redirecting)) if redirect else contextlib.nullcontext

        if not isinstance(objective, Objective):
            raise ValueError(f"objective of type {type(objective).__name__}: expected an Objective such as "
                             "channel(layer, c), neuron, class_logit, direction or feature_match")
        self.learning_rate = check_number("learning_rate", learning_rate, 0, 10, low_open=True)
        seed = check_number("seed", seed, 0, integer=True)
        if n is not None:
            n = check_number("n", n, 1, integer=True)
        tf.random.set_seed(seed)
        self.objective = objective
        self.param = param or Fourier(n or 1, cm.input_size[0], seed=seed)
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
        if n is not None and shape[0] != n:
            raise ValueError(f"n={n} but the parameterization makes {shape[0]} images: leave n out when passing param")
        sub = feature_model(cm.model, layers)
        t = image = self.param()
        for transform in transforms:  # one eager pass: a transform or objective that does not fit fails here, clearly
            t = transform(t)
        tf.random.set_seed(seed)  # the steps draw the same transforms as without this pass
        outs = sub(cm.preprocess_tensor(t), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        try:
            objective({**dict(zip(layers, outs[:len(layers)])), LOGITS: outs[-1], IMAGE: image})
        except tf.errors.InvalidArgumentError as e:  # e.g. channel(layer, [3, 5]) for n=1 image
            raise ValueError(f"objective {objective.name} does not fit a batch of {shape[0]} images "
                             f"({e.message.splitlines()[0]}): a list of channels needs n equal to its length") from None
        self.optimizer = keras.optimizers.Adam(self.learning_rate)

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
        """``(images (n, H, W, 3) in [0, 1], history (steps, n))`` from the initial image. ValueError if the
        objective or the image became NaN or infinite (a diverging objective: lower the learning rate)."""
        from tqdm.auto import tqdm

        steps = check_number("steps", steps, 1, integer=True)
        for v, init in zip(self.param.variables, self._initial):
            v.assign(init)
        for v in self.optimizer.variables:  # Adam's step count and moments, not its learning rate
            if v.name != "learning_rate":
                v.assign(np.zeros(v.shape, v.dtype))
        history = []
        for k in tqdm(range(capped_steps(steps)), desc=self.objective.name[:40], disable=not progress, leave=False):
            if k in (0, REDIRECT_STEPS):
                self._redirecting.assign(k == 0)
            history.append(self._call_step().numpy())
        history = np.array(history)
        images = self.param().numpy()
        if not (np.isfinite(history).all() and np.isfinite(images).all()):
            bad = np.flatnonzero(~np.isfinite(history.reshape(len(history), -1)).all(axis=1))
            raise ValueError(f"the render of {self.objective.name} diverged: NaN or infinite values from step "
                             f"{bad[0] + 1 if len(bad) else len(history)} (learning_rate={self.learning_rate:g}); "
                             "lower the learning rate, or check the objective's weights and the model")
        return images, history

    def _call_step(self):
        """Run one step; the first call traces it. TF counts the traces of every Renderer's step
        together and warns of "retracing" after five, although each Renderer traces only once:
        that one warning is silenced here (a real retrace of one Renderer would still warn later)."""
        if self._traced:
            with self._relus():  # the step was traced with them; a retrace would be too
                return self._step()
        import logging

        import tensorflow as tf

        logger = tf.get_logger()
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with self._relus():
                return self._step()
        finally:
            logger.setLevel(level)
            self._traced = True


def render(cm: ModelLike, objective: Objective, param=None, transforms: Sequence[Callable] | None = None,
           steps: int = 256, learning_rate: float = 0.05, n: int | None = None, seed: int = 0, progress: bool = True,
           redirect: bool = False):
    """Maximize ``objective`` over images made by ``param`` (default :class:`Fourier`, decorrelated colour) with
    Adam, under the standard transforms by default: the recipe of notebook 02 unless switched off.

    Args:
        cm: a :class:`course_utils.models.CourseModel` or ``keras.Model`` (preprocessing applied inside the loop).
        param: images of the model's input size, or of any size for a model that takes any
            (``efficientnet_lite0``: ``Fourier(4, 128)`` renders 128 px images).
        transforms: applied in order to the image batch every step (default ``None``: :func:`standard_transforms`;
            ``()``: none, as feature inversion and the naive ascent of notebook 02 use).
        steps: gradient steps (>= 1, capped by ``COURSE_MAX_STEPS``); ``learning_rate``: Adam's, in (0, 10].
        n: images optimized together (default 1; leave it out when passing ``param``, which fixes it).
        redirect: for the first :data:`REDIRECT_STEPS` steps, back-propagate through the ReLUs with Lucid's
            redirected rule (:func:`course_utils.attribution.redirected_relus`): an image on which the objective's
            units are all silent still gets a gradient that wakes them; any other image gets the plain gradient.
            Off by default: on ``fashion_vgg``'s silent channel of notebook 07 (section 6) it raised the channel's
            mean pre-activation but not its maximum above zero, and it changes nothing else.
    Returns: ``(images (n, H, W, 3) in [0, 1], history)`` where ``history`` is the objective per step ``(steps, n)``.
    """
    cm = course_model(cm)
    steps = check_number("steps", steps, 1, integer=True)  # before the (slow) Renderer is built
    return Renderer(cm, objective, param, transforms, learning_rate, n, seed, redirect).run(steps, progress)

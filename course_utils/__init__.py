"""course_utils: the small library behind the "See inside CNNs" notebooks.

One module per concern (see ../README.md); imports flow one way, from ``base`` through the method
modules to ``plotting`` and ``widgets`` (``tests/test_repository.py`` gives every module a floor and checks that
each imports only from lower floors):

- :mod:`course_utils.base`        argument checks, the logits model of any ``CourseModel`` or ``keras.Model``,
  map normalizing/resizing, mosaics, per-model caches (imports no other module of the package)
- :mod:`course_utils.models`      one interface (:class:`CourseModel`) to ImageNet and bundled models
- :mod:`course_utils.data`        Fashion-MNIST and the :class:`FashionScenes` generator
- :mod:`course_utils.images`      loading sample or user photos
- :mod:`course_utils.layers`      layers by path, nested models included (``find_layer``, ``conv_layers``)
- :mod:`course_utils.activations` cached feature sub-models, activations, channel statistics, top patches
- :mod:`course_utils.attribution` saliency maps: vanilla, SmoothGrad, Integrated Gradients, guided backprop
- :mod:`course_utils.cam`         class activation maps: CAM, Grad-CAM, Grad-CAM++, guided Grad-CAM
- :mod:`course_utils.optimization` feature visualization and inversion: objectives, parameterizations, render
- :mod:`course_utils.dream`       Deep Dream: octaves, detail re-injection, rolled tiles on size-agnostic trunks
- :mod:`course_utils.embedding`   t-SNE / UMAP / PCA of layer activations, atlas binning and rendering
- :mod:`course_utils.metrics`     is an explanation right? pointing game, deletion/insertion, sanity checks, PSNR/SSIM
- :mod:`course_utils.checks`      ``expect``: a measured number against the reference run, as a verdict any CPU prints
- :mod:`course_utils.plotting`, :mod:`course_utils.widgets`  figures (drawing only) and ipywidgets explorers
- :mod:`course_utils.train`       reproduces the bundled models in ``data/models``
- :mod:`course_utils.runner`       runs the notebooks headless (benchmarks live in ``benchmarks/``, outside the package)
- :mod:`course_utils.gallery`     the page of every generative figure that ``make course`` writes
- :mod:`course_utils.colab`       the notebooks' guarded Colab set-up cell

``import course_utils`` imports no submodule, so it stays cheap (no TensorFlow).
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

#: The course repository; the one place its address is written. Notebooks' Colab set-up cell,
#: README badges and pyproject are checked against it by tests/test_repository.py.
REPO_URL = "https://github.com/see-inside-cnns/see-inside-cnns"

#: Root of the checkout (``data/`` lives next to the package in a source checkout or editable install).
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
#: Bundled model weights and cards; ``COURSE_MODELS_DIR`` points elsewhere (e.g. at retrained models).
MODELS_DIR = Path(os.environ.get("COURSE_MODELS_DIR", DATA_DIR / "models"))
IMAGES_DIR = DATA_DIR / "images"

__all__ = ["REPO_URL", "ROOT", "DATA_DIR", "MODELS_DIR", "IMAGES_DIR", "__version__"]

"""Shared fixtures: tiny models, bundled models, scenes. Everything here works offline."""

from __future__ import annotations

import os
import re
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from course_utils.data import DEBIAN_DIR

needs_debian_data = pytest.mark.skipif(
    not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="needs the Debian package dataset-fashion-mnist (make data installs it)")


@pytest.fixture(scope="session")
def tiny_model():
    """An 8x8 two-conv functional model with 3 classes (logits)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="tiny")


@pytest.fixture(scope="session")
def nested_mobilenet():
    """``MobileNetV2(weights=None)`` inside a Sequential, the case naive sub-models get wrong."""
    import keras

    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(weights=None)
    return keras.Sequential([keras.Input((224, 224, 3)), base, keras.layers.Dense(4, name="head")], name="wrapped")


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory):
    """``fast_run(notebook, hash_seed, solved)``: the notebook executed once per session with FAST parameters and
    ``PYTHONHASHSEED=hash_seed`` (the kernel inherits it), with its exercises solved and checked twice
    (:func:`solved_copy`) unless ``solved`` is False -> ``(RunResult, executed path)``. The tier-2 run and the
    determinism test share the run they have in common instead of paying for it twice."""
    from course_utils import runner

    runs: dict = {}

    def run(notebook, hash_seed: str = "0", solved: bool = True):
        key = (str(notebook), hash_seed, solved)
        if key not in runs:
            out_dir = tmp_path_factory.mktemp(f"fast-{notebook.stem}-{hash_seed}")
            path = solved_copy(notebook, tmp_path_factory.mktemp(f"solved-{notebook.stem}")) if solved else notebook
            with mock.patch.dict(os.environ, PYTHONHASHSEED=hash_seed):
                result = runner.run_notebook(path, out_dir, parameters=runner.FAST_PARAMETERS, html=False,
                                             cwd=notebook.parent)
            runs[key] = (result, out_dir / notebook.name)
        return runs[key]
    return run


SOLUTIONS = re.compile(r"<details><summary>Solutions</summary>\s*```python\n(.*?)\n```\s*</details>", re.S)
ANSWERS = re.compile(r"(answer_\d+ = None\n?)+")
CHECK_CELL = "# Check your answers"  # how the cell that checks the exercises begins


def exercise_cells(nb) -> tuple[int | None, str | None]:
    """``(index of the cell of answer_k = None lines, the code of the folded worked solutions)``: either is
    None when the notebook lacks it."""
    answers = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and ANSWERS.fullmatch(c.source)),
                   None)
    found = [m.group(1) for c in nb.cells if c.cell_type == "markdown" for m in SOLUTIONS.finditer(c.source)]
    return answers, (found[0] if len(found) == 1 else None)


#: The tests' second pass over the checks: every answer made wrong but kept well-typed (numbers moved, names
#: changed; anything else, such as an image or a map, unset), then the check cell's code again
WRONG_PASS = """# Tests only: the worked solutions' answers made wrong; every check must now say "not yet"
def _wrong(value):
    if isinstance(value, str):
        return value + " (not it)"
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return a * 1.5 + 3.7 if a.ndim <= 1 else None


for _name in [name for name in list(globals()) if name.startswith("answer_")]:
    globals()[_name] = _wrong(globals()[_name])
"""


def solved_copy(notebook, out_dir):
    """A copy of ``notebook`` in ``out_dir`` whose answers cell holds the worked solutions and whose check cell is
    followed by :data:`WRONG_PASS` and the checks again: the tier-2 run runs the solutions, and ``test_notebooks``
    requires every verdict "correct" the first time and "not yet" the second."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    answers, solutions = exercise_cells(nb)
    if answers is not None and solutions is not None:
        nb.cells[answers].source = solutions
        check = next(i for i, c in enumerate(nb.cells) if c.source.startswith(CHECK_CELL))
        nb.cells.insert(check + 1, nbformat.v4.new_code_cell(WRONG_PASS + nb.cells[check].source))
    path = out_dir / notebook.name
    nbformat.write(nb, path)
    return path


#: Whole files that take longest (measured with ``--durations``: the FAST notebook runs with their solutions
#: ~680 s, 06's nbval cells ~270 s, 07's ~210 s, 08's ~175 s, ...), started first. pytest-xdist hands out whole
#: files (``--dist loadfile``) in collection order when run with ``--no-loadscope-reorder``; by default it starts
#: the files with the most tests first, which left these few-test, long files for last and one worker idle while
#: the other finished them.
LONGEST_FIRST = ("tests/test_notebooks.py", "notebooks/06_grad_cam.ipynb", "notebooks/09_scoring_on_photos.ipynb",
                 "notebooks/07_activation_atlas.ipynb",
                 "notebooks/08_shortcuts_and_training.ipynb", "notebooks/02_optimize_image_wrt_neuron.ipynb",
                 "tests/test_browser.py",
                 "notebooks/01_saliency_maps.ipynb", "notebooks/05_gap_visualization.ipynb",
                 "notebooks/03_optimize_image_wrt_content.ipynb", "tests/test_bad_inputs.py")


def pytest_collection_modifyitems(items):
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order

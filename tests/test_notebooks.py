"""Tier 2: every course notebook executed by papermill with FAST parameters (tier 3, nbval on the
committed outputs, runs in the same pytest call: ``pytest tests notebooks --nbval-lax``).

``make test`` spreads the files over two pytest-xdist workers (``--dist loadfile``): the tests that
share a notebook run (``fast_run``) live in this one file, so they run on one worker and share it."""

import pytest

from course_utils import ROOT, runner

NOTEBOOKS = runner.course_notebooks()


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_fast(notebook, fast_run):
    result, _ = fast_run(notebook)
    assert result.ok, result.error


# ---- the same notebook twice -------------------------------------------------------------------------------

DETERMINISM_NOTEBOOK = "01_saliency_maps"  # pointing game, SmoothGrad noise, a random map, randomized models


def _printed_values(path) -> list[str]:
    """What each code cell printed: the measurements' exact numbers (the ``NBVAL_CHECK_OUTPUT`` cells print
    only verdicts against the reference run, and "not checked" with FAST parameters)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            for cell in nb.cells if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in cell.source]


def test_a_notebook_twice_prints_identical_values(fast_run):
    notebook = ROOT / "notebooks" / f"{DETERMINISM_NOTEBOOK}.ipynb"
    outputs = []
    for hash_seed in ("0", "1"):  # the kernel inherits the environment: results must not depend on it
        result, executed = fast_run(notebook, hash_seed)  # the "0" run is tier 2's, when it ran first
        assert result.ok, result.error
        outputs.append(_printed_values(executed))
    assert any("pointing game" in text for text in outputs[0]), "the notebook printed no pointing-game rates"
    assert outputs[0] == outputs[1]

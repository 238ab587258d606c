"""Tier 2: every course notebook executed by papermill with FAST parameters (tier 3, nbval on the
committed outputs, runs in the same pytest call: ``pytest tests notebooks --nbval-lax``).

``make test`` spreads the files over two pytest-xdist workers (``--dist loadfile``): the tests that
share a notebook run (``fast_run``) live in this one file, so they run on one worker and share it."""

import re

import pytest

from course_utils import ROOT, runner

from conftest import CHECK_CELL, WRONG_PASS, exercise_cells

NOTEBOOKS = runner.course_notebooks()


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_fast(notebook, fast_run):
    """Tier 2, with the folded worked solutions in place of the answers: every exercise must come out correct,
    and "not yet" once the same answers are made wrong."""
    import nbformat

    result, executed = fast_run(notebook)
    assert result.ok, result.error
    cells = nbformat.read(executed, as_version=4).cells
    check = [c for c in cells if c.cell_type == "code" and c.source.startswith(CHECK_CELL)]
    wrong = [c for c in cells if c.cell_type == "code" and c.source.startswith(WRONG_PASS)]
    assert len(check) == 1 and len(wrong) == 1, "expected one cell that checks the exercises"
    solved, again = (re.findall(r"exercise \d+: (.+)", "".join(o.get("text", "") for o in c[0].outputs))
                     for c in (check, wrong))
    assert len(solved) >= 2, f"expected at least two exercises, got {solved}"
    assert solved == ["correct"] * len(solved), f"the worked solutions do not solve: {solved}"
    assert again == ["not yet"] * len(solved), f"wrong answers pass the checks: {again}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_exercises_with_worked_solutions(notebook):
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    answers, solutions = exercise_cells(nb)
    assert answers is not None, "no cell of answer_k = None lines"
    assert solutions is not None, "no single <details><summary>Solutions</summary> block with a python fence"
    asked = set(re.findall(r"^(answer_\d+) =", nb.cells[answers].source, re.M))
    assert set(re.findall(r"^(answer_\d+) =", solutions, re.M)) >= asked, "the solutions must set every answer"


# ---- the same notebook twice -------------------------------------------------------------------------------

DETERMINISM_NOTEBOOK = "01_saliency_maps"  # pointing game, SmoothGrad noise, a random map, randomized models


def _printed_values(path) -> list[str]:
    """What each code cell before the exercises printed: the measurements' exact numbers (the
    ``NBVAL_CHECK_OUTPUT`` cells print only verdicts against the reference run, and "not checked" with FAST
    parameters)."""
    import nbformat

    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    cells = cells[:next(i for i, c in enumerate(cells) if "answer_1" in c.source)]  # the exercises' cells differ
    return ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            for cell in cells if "NBVAL_IGNORE_OUTPUT" not in cell.source]


def test_a_notebook_twice_prints_identical_values(fast_run):
    notebook = ROOT / "notebooks" / f"{DETERMINISM_NOTEBOOK}.ipynb"
    outputs = []
    for hash_seed in ("0", "1"):  # the kernel inherits the environment: results must not depend on it
        result, executed = fast_run(notebook, hash_seed, solved=hash_seed == "0")  # "0": tier 2's run
        assert result.ok, result.error
        outputs.append(_printed_values(executed))
    assert any("pointing game" in text for text in outputs[0]), "the notebook printed no pointing-game rates"
    assert outputs[0] == outputs[1]

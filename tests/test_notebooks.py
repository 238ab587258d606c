"""Tier 2: every course notebook executed by papermill with FAST parameters (tier 3, nbval on the
committed outputs, runs in the same pytest call: ``pytest tests notebooks --nbval-lax``)."""

import pytest

from course_utils import runner

NOTEBOOKS = runner.course_notebooks()


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_fast(notebook, fast_run):
    result, _ = fast_run(notebook)
    assert result.ok, result.error


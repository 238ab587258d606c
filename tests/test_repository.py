"""The repository's promises: one repository URL everywhere, README lists the notebooks, each
notebook follows the template (Colab cell, parameters cell), CI runs the README's test command."""

import re
import tomllib

import nbformat
import pytest

from course_utils import REPO_URL, ROOT
from course_utils.colab import setup_cell
from course_utils.runner import course_notebooks

README = (ROOT / "README.md").read_text()
SLUG = REPO_URL.removeprefix("https://github.com/")
NOTEBOOKS = course_notebooks()


def test_readme_lists_the_eight_notebooks_with_badges():
    for number in range(8):
        row = next(line for line in README.splitlines() if line.startswith(f"| {number:02d} |"))
        name = re.search(r"notebooks/(\d\d_\w+\.ipynb)", row).group(1)
        assert f"colab.research.google.com/github/{SLUG}/blob/main/notebooks/{name}" in row
        assert f"mybinder.org/v2/gh/{SLUG}/main?labpath=notebooks/{name}" in row
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.name}" in README


def test_every_link_uses_the_one_repository_url():
    for slug in re.findall(r"(?:github/|gh/)([\w-]+/[\w-]+)", README):
        assert slug == SLUG
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["urls"]["Homepage"] == REPO_URL


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make course" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_colab_cell_is_guarded():
    cell = setup_cell()
    assert 'if "google.colab" in sys.modules:' in cell and REPO_URL in cell


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_template(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == setup_cell(), "first code cell must be course_utils.colab.setup_cell()"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'MODEL = "auto"' in params[0].source and "FAST" in params[0].source
    assert any(c.outputs for c in code), "commit notebooks executed"
    assert nb.cells[-1].cell_type == "markdown" or any("Exercise" in c.source for c in nb.cells)

"""The repository's promises: one repository URL everywhere, README lists the notebooks, each
notebook follows the template (Colab cell, parameters cell), CI runs the README's test command."""

import ast
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


def test_readme_lists_every_notebook_with_badges():
    for number in range(len(NOTEBOOKS)):
        row = next(line for line in README.splitlines() if line.startswith(f"| {number:02d} |"))
        name = re.search(r"notebooks/(\d\d_\w+\.ipynb)", row).group(1)
        assert f"colab.research.google.com/github/{SLUG}/blob/main/notebooks/{name}" in row
        assert f"mybinder.org/v2/gh/{SLUG}/main?labpath=notebooks/{name}" in row
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.name}" in README


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
def test_every_committed_notebook_is_at_most_2_mb():
    sizes = {nb.name: nb.stat().st_size for nb in NOTEBOOKS}
    assert all(size <= 2_000_000 for size in sizes.values()), f"notebooks over 2 MB (bytes): {sizes}"


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
    assert len(params) == 1 and "FAST" in params[0].source
    # the photo sections show the real network on every machine: no network probe ("auto") decides
    assert 'MODEL = "efficientnet_lite0"' in params[0].source, "the parameters cell must default to the real network"
    assert any(c.outputs for c in code), "commit notebooks executed"
    assert nb.cells[-1].cell_type == "markdown" or any("Exercise" in c.source for c in nb.cells)


# ---- the module graph flows one way -----------------------------------------------------------------------------

def _course_imports(path) -> list[tuple[str, str, int]]:
    """``(imported module, name, line)`` for every import of a course_utils module in ``path``, function-level
    imports included; imports under ``if TYPE_CHECKING:`` are type hints only and left out."""
    tree = ast.parse(path.read_text())
    hints = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
             for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "course_utils":
            for alias in node.names:
                if node.module == "course_utils" and (ROOT / "course_utils" / f"{alias.name}.py").exists():
                    found.append((f"course_utils.{alias.name}", "", node.lineno))  # a submodule
                else:
                    found.append((node.module, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("course_utils.")]
    return found


def _module_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        me = f"course_utils.{path.stem}"
        graph[me] = {m for m, _, _ in _course_imports(path) if m not in ("course_utils", me)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``[]``."""
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (found := visit(nxt, trail + [nxt])):
                return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def test_no_import_cycle_between_course_modules():
    graph = _module_graph()
    assert graph["course_utils.base"] == set(), "base must import no other course_utils module"
    assert not (cycle := _cycle(graph)), f"import cycle: {' -> '.join(cycle)}"


#: Each course_utils module's floor: a module imports only modules on lower floors (so there can be no cycle and
#: no import running back up). The bottom holds what every module shares and what loads models and data; the
#: techniques sit above it; figures and explorers on top. Techniques that still build on another technique (cam on
#: attribution and perturbation, optimization on attribution, embedding on optimization) sit a floor above it.
FLOORS = {
    "base": 0, "checks": 0, "colab": 0, "gallery": 0, "images": 0,
    "layers": 1, "data": 1, "efficientnet": 1,
    "models": 2, "activations": 2, "attribution": 2, "perturbation": 2, "train": 2,
    "metrics": 3, "cam": 3, "dream": 3, "optimization": 3,
    "embedding": 4,
    "plotting": 5,
    "widgets": 6, "runner": 6, "__main__": 6,
}


def test_imports_only_run_down_the_floors():
    graph = {me.split(".")[1]: {m.split(".")[1] for m in imports} for me, imports in _module_graph().items()
             if me != "course_utils.__init__"}
    assert set(graph) == set(FLOORS), f"give every module a floor in FLOORS: {sorted(set(graph) ^ set(FLOORS))}"
    upward = [f"{me} (floor {FLOORS[me]}) -> {dep} (floor {FLOORS[dep]})" for me, deps in sorted(graph.items())
              for dep in sorted(deps) if FLOORS[dep] >= FLOORS[me]]
    assert not upward, f"imports that do not run down the floors: {upward}"


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_a_private_name_of_another():
    private = [f"{path.name}:{line}: {module}.{name}" for path in sorted((ROOT / "course_utils").glob("*.py"))
               for module, name, line in _course_imports(path) if name.startswith("_")]
    assert not private, f"private names imported across modules (make them public or move them to base): {private}"


def test_benchmarks_live_outside_the_installed_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"] == ["course_utils"]
    assert (ROOT / "benchmarks" / "bench.py").exists() and not (ROOT / "course_utils" / "bench.py").exists()

import json

import nbformat
import pytest

from course_utils import runner


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_run_notebook_measures_time_and_memory(tmp_path):
    nb = _notebook(tmp_path / "00_ok.ipynb", "FAST = False", "import numpy as np\nblock = np.ones(50_000_000)\nFAST")
    result = runner.run_notebook(nb, tmp_path / "out", parameters=runner.FAST_PARAMETERS)
    assert result.ok and result.error == ""
    assert result.peak_mb > 300  # the 400 MB array in the kernel was seen
    executed = nbformat.read(tmp_path / "out" / "00_ok.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["data"]["text/plain"] == "True"  # FAST was injected
    assert (tmp_path / "out" / "00_ok.html").stat().st_size > 1000
    assert result.line().startswith("ok   00_ok.ipynb")


def test_failing_notebook_is_reported_not_raised(tmp_path):
    nb = _notebook(tmp_path / "01_bad.ipynb", "FAST = False", "raise ValueError('boom')")
    result = runner.run_notebook(nb, tmp_path / "out", html=False)
    assert not result.ok and "boom" in result.error and result.line().startswith("FAIL")


def test_main_exit_codes_and_summary(tmp_path, capsys):
    _notebook(tmp_path / "00_ok.ipynb", "FAST = False")
    _notebook(tmp_path / "01_bad.ipynb", "FAST = False", "1 / 0")
    code = runner.main([str(p) for p in runner.course_notebooks(tmp_path)] + ["--out", str(tmp_path / "o"), "--no-html"])
    assert code == 1
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [r["ok"] for r in summary["notebooks"]] == [True, False] and summary["jobs"] == runner.default_jobs()
    assert 0 < summary["wall_s"] <= sum(r["seconds"] for r in summary["notebooks"]) + 5
    assert "1/2 notebooks ran" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        runner.main(["--jobs", "0"])
    assert "--jobs 0: expected 1 or more" in capsys.readouterr().err


def test_no_notebooks_is_not_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(runner, "course_notebooks", lambda directory=tmp_path: [])
    assert runner.main([]) == 0
    assert "nothing to run" in capsys.readouterr().out


def test_longest_notebooks_start_first(tmp_path):
    paths = [tmp_path / f"0{k}_n.ipynb" for k in range(4)]
    summary = tmp_path / "summary.json"
    assert runner._longest_first(paths, summary) == paths  # no earlier run: the given order
    summary.write_text(json.dumps({"wall_s": 9, "jobs": 2, "notebooks": [
        {"notebook": "00_n.ipynb", "seconds": 5.0}, {"notebook": "01_n.ipynb", "seconds": 9.0},
        {"notebook": "03_n.ipynb", "seconds": 7.0}]}))
    assert runner._longest_first(paths, summary) == [paths[2], paths[1], paths[3], paths[0]]  # 02 is new
    summary.write_text("[]")  # a summary of the old format: the given order
    assert runner._longest_first(paths, summary) == paths
    summary.write_text(json.dumps({"wall_s": 3, "jobs": 1, "notebooks": [{"notebook": "00_n.ipynb", "seconds": 3.0}],
                                   "seconds": {"00_n.ipynb": 3.0, "01_n.ipynb": 9.0, "02_n.ipynb": 1.0}}))
    assert runner._longest_first(paths, summary) == [paths[3], paths[1], paths[0], paths[2]]  # the kept times


def test_without_a_summary_the_committed_durations_order_the_run(tmp_path):
    paths = [tmp_path / f"0{k}_n.ipynb" for k in range(4)]
    for path, seconds in zip(paths, (5.0, 40.0, None, 12.0)):  # 02: no papermill record
        meta = {"papermill": {"duration": seconds}} if seconds else {}
        path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    summary = tmp_path / "summary.json"
    assert runner._longest_first(paths, summary) == [paths[2], paths[1], paths[3], paths[0]]
    summary.write_text(json.dumps({"seconds": {"00_n.ipynb": 99.0}}))  # a measured time wins over the record
    assert runner._longest_first(paths, summary)[:2] == [paths[2], paths[0]]


def test_a_run_of_a_few_notebooks_keeps_the_others_times(tmp_path):
    _notebook(tmp_path / "00_ok.ipynb", "FAST = False")
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"wall_s": 9, "jobs": 2, "notebooks": [
        {"notebook": "00_ok.ipynb", "seconds": 99.0}, {"notebook": "06_long.ipynb", "seconds": 300.0}]}))
    assert runner.main([str(tmp_path / "00_ok.ipynb"), "--out", str(out), "--no-html", "--jobs", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [r["notebook"] for r in summary["notebooks"]] == ["00_ok.ipynb"]  # this run
    assert summary["seconds"]["06_long.ipynb"] == 300.0  # kept: the next full run starts it first
    assert summary["seconds"]["00_ok.ipynb"] == summary["notebooks"][0]["seconds"] < 99.0  # updated


def test_default_jobs_follow_cores_and_memory(monkeypatch):
    import psutil

    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    memory = lambda gb: type("M", (), {"available": gb * 2**30})()  # noqa: E731
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(24))
    assert runner.default_jobs() == 3  # cores + 1
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(2))
    assert runner.default_jobs() == 1  # Binder: memory for one notebook
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(0.5))
    assert runner.default_jobs() == 1  # never 0


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch):
    import papermill

    nb = _notebook(tmp_path / "00_ok.ipynb", "FAST = False")
    calls = []

    def flaky(*args, **kwargs):  # two kernels drew the same port: the first start fails before any cell runs
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    real = papermill.execute_notebook
    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    result = runner.run_notebook(nb, tmp_path / "out", html=False)
    assert result.ok and len(calls) == 2

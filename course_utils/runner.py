"""Execute the course notebooks headless (papermill), one line each with wall time and peak memory.

    python -m course_utils.runner                 # default parameters -> build/course/*.ipynb, *.html, gallery.html
    python -m course_utils.runner --fast          # FAST=True parameters -> build/fast/
    python -m course_utils.runner notebooks/00_activation_grids.ipynb
    python -m course_utils.runner --jobs 1        # one notebook at a time

Several notebooks run at once, each in its own worker process (:func:`default_jobs`: one more than the CPU
cores, as many as memory holds): a kernel leaves a core idle while it starts, imports TensorFlow, traces a graph
or draws a figure, so three finish sooner than one after another on two cores. Peak memory is
the largest resident set of one notebook's kernel process tree, sampled every 50 ms.
A JSON summary lands next to the outputs (``summary.json``: ``wall_s``, ``jobs``, one entry per notebook of
this run, and ``seconds``, every notebook's latest wall time, kept across runs of a few notebooks) for
the benchmark report.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from course_utils import ROOT

NOTEBOOKS_DIR = ROOT / "notebooks"
FAST_PARAMETERS = {"FAST": True}


@dataclass
class RunResult:
    notebook: str
    ok: bool
    seconds: float
    peak_mb: float
    error: str = ""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        return f"{status} {self.notebook:40s} {self.seconds:7.1f} s {self.peak_mb:8.0f} MB peak" + (
            f"  {self.error}" if self.error else "")


def course_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks, in order (``NN_*.ipynb``)."""
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"notebook folder {str(directory)!r} does not exist: expected a folder of NN_*.ipynb "
                                f"notebooks such as {NOTEBOOKS_DIR}")
    return sorted(p for p in Path(directory).glob("[0-9][0-9]_*.ipynb"))


class _PeakMemory:
    """Samples the summed RSS of this process's children (the kernel) in a background thread."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.me, self.interval, self.peak, self._stop = psutil.Process(), interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            for child in self.me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _kernel_config():
    """CurveZMQ between papermill and the kernel where both support it: ipykernel >= 7.3 warns on every start
    without it; "auto" keeps plain TCP for kernels that do not declare support; older jupyter_client lacks it."""
    from jupyter_client import KernelManager
    from traitlets.config import Config

    if "transport_encryption" not in KernelManager.class_trait_names():
        return Config()
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def run_notebook(path: Path, out_dir: Path, parameters: dict | None = None, html: bool = True,
                 timeout: int = 900, cwd: Path | None = None) -> RunResult:
    """Execute ``path`` with papermill into ``out_dir`` (and an HTML copy) in folder ``cwd`` (default: the
    notebook's own); never raises on failure."""
    import papermill

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    start, error = time.time(), ""
    with _PeakMemory() as mem:
        for attempt in range(3):  # kernels started side by side can draw the same free port (ZMQ "Address
            error = ""            # already in use"): the kernel dies before it runs anything, so start it again
            try:
                papermill.execute_notebook(str(path), str(out), parameters=parameters or {},
                                           cwd=str(cwd or path.parent),
                                           progress_bar=False, execution_timeout=timeout, kernel_name="python3",
                                           config=_kernel_config())
            except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
                error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
            if "Kernel died before replying to kernel_info" not in error:
                break
    result = RunResult(path.name, not error, round(time.time() - start, 1), round(mem.peak / 2**20, 1), error)
    if html and out.exists():
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
        out.with_suffix(".html").write_text(body, encoding="utf-8")
    return result


def default_jobs(per_notebook_gb: float = 1.6) -> int:
    """Notebooks to run at once: one more than the CPU cores (a kernel often leaves its core idle), at most as
    many as the available memory holds at ``per_notebook_gb`` each (every notebook peaks under 1.5 GB)."""
    import psutil

    from course_utils.base import check_number

    per_notebook_gb = check_number("per_notebook_gb", per_notebook_gb, 0, low_open=True)
    fits = int(psutil.virtual_memory().available / 2**30 / per_notebook_gb)
    return max(1, min((os.cpu_count() or 1) + 1, fits))


#: thread pools of TensorFlow, OpenMP and BLAS, set for the kernels of side-by-side notebooks
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _share_cores(jobs: int) -> None:
    """In a worker process: give the kernels it starts ``cores // jobs`` threads each (at least 1), unless the
    environment already sets them. Side by side, kernels with a full pool each spin on the same cores: on 2 cores,
    3 FAST notebooks at a time took 184 s with 2 threads per kernel and 168 s with 1."""
    if jobs > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, threads)


def _last_seconds(summary: Path) -> dict[str, float]:
    """Each notebook's latest wall time from ``summary``: its ``seconds`` map (kept across runs of a few
    notebooks), else its ``notebooks`` entries; ``{}`` without a readable summary."""
    try:
        data = json.loads(summary.read_text())
        return dict(data.get("seconds") or {r["notebook"]: r["seconds"] for r in data["notebooks"]})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _committed_seconds(notebook: Path) -> float:
    """The duration papermill recorded in the notebook itself (its committed run), or infinity if none."""
    try:
        return float(json.loads(Path(notebook).read_text())["metadata"]["papermill"]["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("inf")


def _longest_first(notebooks: list[Path], summary: Path) -> list[Path]:
    """``notebooks`` ordered by their latest wall times in ``summary``, else by the duration of their committed
    run (longest first, unknown ones before all), so that side-by-side runs end together: from a fresh clone,
    in file order, 06 started sixth and set the wall time alone (601 s on 2 cores)."""
    last = _last_seconds(summary)
    return sorted(notebooks, key=lambda p: -last.get(Path(p).name, _committed_seconds(p)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.runner", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--fast", action="store_true", help=f"run with parameters {FAST_PARAMETERS}")
    parser.add_argument("--out", type=Path, default=None, help="default: build/course or build/fast")
    parser.add_argument("--no-html", action="store_true")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="notebooks run at once, each in its own process (default here: %(default)s)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: expected 1 or more")
    notebooks = args.notebooks or course_notebooks()
    out = args.out or ROOT / "build" / ("fast" if args.fast else "course")
    if not notebooks:
        print(f"No notebooks in {NOTEBOOKS_DIR} yet: nothing to run.")
        return 0
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start, results = time.time(), []
    run = functools.partial(run_notebook, out_dir=out, parameters=FAST_PARAMETERS if args.fast else None,
                            html=not args.no_html)
    jobs = min(args.jobs, len(notebooks))
    with concurrent.futures.ProcessPoolExecutor(jobs, initializer=_share_cores, initargs=(jobs,)) as pool:
        futures = [pool.submit(run, nb) for nb in _longest_first(notebooks, out / "summary.json")]
        for result in concurrent.futures.as_completed(futures):
            results.append(result.result())
            print(results[-1].line(), flush=True)
    results.sort(key=lambda r: r.notebook)
    failed = [r.notebook for r in results if not r.ok]
    wall = round(time.time() - start, 1)
    print(f"{len(results) - len(failed)}/{len(results)} notebooks ran in {wall:.0f} s wall, "
          f"{args.jobs} at a time ({sum(r.seconds for r in results):.0f} s summed); outputs in {out}")
    seconds = {**_last_seconds(out / "summary.json"), **{r.notebook: r.seconds for r in results}}
    summary = {"wall_s": wall, "jobs": args.jobs, "notebooks": [asdict(r) for r in results], "seconds": seconds}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if not args.fast:
        from course_utils.gallery import write_gallery

        print(f"the gallery of generative figures: {write_gallery(out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

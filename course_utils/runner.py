"""Execute the course notebooks headless (papermill), one line each with wall time and peak memory.

    python -m course_utils.runner                 # default parameters -> build/course/*.ipynb, *.html
    python -m course_utils.runner --fast          # FAST=True parameters -> build/fast/
    python -m course_utils.runner notebooks/00_activation_grids.ipynb

Peak memory is the largest resident set of the notebook's kernel process tree, sampled every 50 ms.
A JSON summary lands next to the outputs (``summary.json``) for the benchmark report.
"""

from __future__ import annotations

import argparse
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
                 timeout: int = 900) -> RunResult:
    """Execute ``path`` with papermill into ``out_dir`` (and an HTML copy); never raises on failure."""
    import papermill

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    start, error = time.time(), ""
    with _PeakMemory() as mem:
        try:
            papermill.execute_notebook(str(path), str(out), parameters=parameters or {}, cwd=str(path.parent),
                                       progress_bar=False, execution_timeout=timeout, kernel_name="python3",
                                       config=_kernel_config())
        except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
            error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    result = RunResult(path.name, not error, round(time.time() - start, 1), round(mem.peak / 2**20, 1), error)
    if html and out.exists():
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
        out.with_suffix(".html").write_text(body, encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.runner", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--fast", action="store_true", help=f"run with parameters {FAST_PARAMETERS}")
    parser.add_argument("--out", type=Path, default=None, help="default: build/course or build/fast")
    parser.add_argument("--no-html", action="store_true")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or course_notebooks()
    out = args.out or ROOT / "build" / ("fast" if args.fast else "course")
    if not notebooks:
        print(f"No notebooks in {NOTEBOOKS_DIR} yet: nothing to run.")
        return 0
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    results = []
    for nb in notebooks:
        results.append(run_notebook(nb, out, FAST_PARAMETERS if args.fast else None, html=not args.no_html))
        print(results[-1].line(), flush=True)
    total = sum(r.seconds for r in results)
    failed = [r.notebook for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} notebooks ran in {total:.0f} s; outputs in {out}")
    (out / "summary.json").write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Tier 4: a real browser. JupyterLab runs on localhost, headless Chromium (Debian's, launched by path
through Playwright) opens a notebook, runs all cells, moves a control of its explorer, and the figure
(an ``ipywidgets.Image``) must change with no error output. Screenshots go to build/test-artifacts/.

Needs the Debian package ``chromium`` and the ``playwright`` Python package (``make test`` installs
both). Without them the test is skipped, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course_utils import ROOT

ARTIFACTS = ROOT / "build" / "test-artifacts"
WORK = ROOT / "build" / "browser"  # FAST copies of the notebooks, inside the server's root_dir
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_TIMEOUT_S = 240  # all cells of a FAST notebook on a busy 2-core machine take 15-60 s


def _missing(what: str) -> None:
    message = f"browser test needs {what}; `make test` installs it (as root or with sudo)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _missing("Chromium (apt-get install chromium; or set CHROMIUM=/path/to/chromium)")
    return path


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package (pip install -r requirements.txt)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token)`` of a JupyterLab serving the repository, with its config, data and runtime
    directories (and IPython's) in a temporary folder; stopped and cleaned up afterwards."""
    _chromium(), _playwright()
    home = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "COURSE_OFFLINE": "1"}
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news toast
    log = open(home / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", "--ServerApp.port_retries=0",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(lab):
    with _playwright()() as p:
        chromium = p.chromium.launch(executable_path=_chromium(), headless=True)
        yield chromium
        chromium.close()


def _fast_copy(notebook: Path) -> Path:
    """A copy of ``notebook`` with FAST parameters injected (papermill, nothing executed) and no outputs."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.setdefault("papermill", {})  # what papermill keeps there (committed notebooks have it)
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    nb = parameterize_notebook(nb, {"FAST": True}, kernel_name="python3", language="python")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    WORK.mkdir(parents=True, exist_ok=True)
    copy = WORK / notebook.name
    nbformat.write(nb, copy)
    return copy


_ERRORS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const errors = [];
  for (let i = 0; i < nb.model.cells.length; i++) {
    const cell = nb.model.cells.get(i);
    if (cell.type !== 'code') continue;
    for (const out of cell.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  }
  return errors;
}"""

_PROGRESS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  let done = 0, total = 0;
  for (let i = 0; i < nb.model.cells.length; i++) {
    const cell = nb.model.cells.get(i);
    if (cell.type !== 'code') continue;
    total += 1;
    if (cell.executionCount !== null && cell.executionCount !== undefined) done += 1;
  }
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
  return {done, total, status: kernel ? kernel.status : 'none'};
}"""

_DIGEST_JS = """async (img) => {
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const hash = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(hash)).map(b => b.toString(16).padStart(2, '0')).join('');
}"""


class Notebook:
    """One notebook opened in JupyterLab in a fresh page."""

    def __init__(self, browser, lab, notebook: Path):
        base, token = lab
        self.name = notebook.stem
        copy = _fast_copy(notebook)
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console: list[str] = []
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        self.page.goto(f"{base}/lab/tree/{copy.relative_to(ROOT).as_posix()}?token={token}&reset")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                    " && window.jupyterapp.shell.currentWidget.content"
                                    " && window.jupyterapp.shell.currentWidget.content.model", timeout=60_000)
        self.page.wait_for_function(f"() => ({_PROGRESS_JS})().status === 'idle'", timeout=60_000)

    def run_all(self) -> None:
        """Run > Run All Cells through the menu bar, then wait until every code cell has run."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.time() + RUN_TIMEOUT_S
        while time.time() < deadline:
            state = self.page.evaluate(_PROGRESS_JS)
            errors = self.errors()
            assert not errors, f"{self.name}: {errors}"
            if state["done"] == state["total"] and state["status"] == "idle":
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}: not all cells ran in {RUN_TIMEOUT_S} s: {self.page.evaluate(_PROGRESS_JS)}")

    def errors(self) -> list[str]:
        """Error outputs in the notebook model, and widget views that failed to render."""
        errors = self.page.evaluate(_ERRORS_JS)
        shown = self.page.locator(".jp-OutputArea-output").all_inner_texts()
        errors += [t[:200] for t in shown if "Error displaying widget" in t or "Error rendering" in t]
        return errors + self.console

    def explorer(self, control: str):
        """The last explorer (a VBox holding an image) that has a control described ``control``."""
        box = self.page.locator(".widget-vbox").filter(has=self.page.locator(".widget-image")).filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{control}$"))).last
        box.scroll_into_view_if_needed()
        box.locator(".widget-image").wait_for(state="visible", timeout=30_000)
        return box

    def figure(self, box) -> str:
        """SHA-256 of the PNG the explorer's ``Image`` widget shows."""
        return self.page.evaluate(_DIGEST_JS, box.locator("img.widget-image, .widget-image img, img").first.element_handle())

    def wait_for_new_figure(self, box, before: str, what: str) -> str:
        deadline = time.time() + 60
        while time.time() < deadline:
            now = self.figure(box)
            if now != before:
                return now
            time.sleep(0.25)
        raise AssertionError(f"{self.name}: the figure did not change after {what}")

    def select(self, box, control: str) -> str:
        """Choose the next option of the dropdown described ``control``; returns the option's label."""
        select = box.locator(".widget-dropdown").filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{control}$"))).locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")
        label = options[(current + 1) % len(options)]
        select.select_option(label=label)
        return label

    def press_slider(self, box, control: str, key: str = "ArrowRight") -> None:
        handle = box.locator(".widget-slider").filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{control}$"))).locator(".noUi-handle")
        handle.focus()
        handle.press(key)

    def screenshot(self, box) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"browser_{self.name}.png"
        box.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.page.close()


def _notebook(name: str) -> Path:
    return ROOT / "notebooks" / f"{name}.ipynb"


def test_activation_grids_in_jupyterlab(browser, lab):
    nb = Notebook(browser, lab, _notebook("00_activation_grids"))
    try:
        nb.run_all()
        box = nb.explorer("layer")
        first = nb.figure(box)
        layer = nb.select(box, "layer")
        second = nb.wait_for_new_figure(box, first, f"choosing layer {layer}")
        nb.press_slider(box, "channel")
        nb.wait_for_new_figure(box, second, "pressing ArrowRight on the channel slider")
        nb.screenshot(box)
        assert not nb.errors()
    finally:
        nb.close()

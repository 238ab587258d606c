# See inside CNNs: `make course` runs every notebook, `make test` runs every test.
# Both create (or reuse) .venv with the pinned requirements and install the Debian Fashion-MNIST data.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: course test test-portable lab bench venv data browser models clean

course: venv data  ## execute every notebook with default parameters into build/course (ipynb + html)
	$(PY) -m course_utils.runner

# pytest-xdist workers, each taking whole files (a notebook's nbval cells share one kernel): TensorFlow's thread
# pools leave a core idle while a kernel starts, a graph is traced or a figure drawn, so two workers on two cores
# finish sooner; WORKERS=0 runs everything in one process
WORKERS ?= 2

test: venv data browser  ## unit tests, notebooks with FAST parameters (papermill), nbval on committed outputs, JupyterLab in Chromium
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(WORKERS) --dist loadfile \
	  --no-loadscope-reorder

NBVAL := $(PY) -m pytest notebooks --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg
ONE_THREAD := OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 NUMBA_NUM_THREADS=1 \
              OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# 1 where TensorFlow runs oneDNN's kernels on this machine (x86 with AVX-512 by default), else 0
ONEDNN_ON = $$($(PY) -c "from tensorflow.python.util._pywrap_util_port import IsMklEnabled; print(int(IsMklEnabled()))" 2>/dev/null || echo 0)

test-portable: venv data  ## nbval as on other machines: once single-threaded, once with oneDNN switched the other way (2x the nbval tier)
	$(ONE_THREAD) $(NBVAL)
	@onednn=$$((1 - $(ONEDNN_ON))); echo "TF_ENABLE_ONEDNN_OPTS=$$onednn $(NBVAL)"; \
	TF_ENABLE_ONEDNN_OPTS=$$onednn $(NBVAL)

lab: venv data  ## open the course in JupyterLab
	$(VENV)/bin/jupyter lab notebooks

bench: venv data  ## docs/benchmarks.md: tf-keras-vis side by side, floor, widgets, leaks, ImageNet tier, and the cost of the last make course
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.bench report --out docs/benchmarks.md

models: venv data  ## retrain the bundled models in data/models (about 2 h 15 min in all on 2 CPU cores)
	$(PY) -m course_utils.train fashion_vgg
	$(PY) -m course_utils.train fashion_gap
	$(PY) -m course_utils.train fashion_watermark
	$(PY) -m course_utils.train fashion_colour
	$(PY) -m course_utils.train fashion_vgg_few

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || $(MAKE) --no-print-directory apt PKG=python3-venv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt  # compiled now: with PYTHONDONTWRITEBYTECODE set, never later
	$(PY) -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

data:  ## Fashion-MNIST from Debian (else course_utils falls back to the committed sample)
	@test -f $(FMNIST) || $(MAKE) --no-print-directory apt PKG=dataset-fashion-mnist || \
	  echo "Fashion-MNIST: the Debian package could not be installed; course_utils uses the sample in data/"

browser:  ## Debian's Chromium for tests/test_browser.py (Playwright drives it by path; no browser download)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || $(MAKE) --no-print-directory apt PKG=chromium || \
	  echo "Chromium: the Debian package could not be installed; tests/test_browser.py is skipped (and fails when CI=true)"

apt:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PKG); \
	elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq $(PKG); \
	else echo "Please install the Debian package $(PKG) (apt-get install $(PKG))"; exit 1; fi

clean:
	rm -rf build .pytest_cache

# One command for each job; each sets up what it needs first (a virtualenv in .venv).
#   make demo    set up, then release fcn_basics and autograde a sample class
#   make test    set up, then run every test (notebooks included), in parallel
#   make quick   set up, then the fast tests only (the inner loop: no notebooks, no demo)
#   make lint    set up, then ruff on the code and the notebooks (configured in pyproject.toml)
#   make lab     set up, then start JupyterLab on the course
#   make test-backends   the library and model tests on JAX and PyTorch (installs torch)
#   make test-long       the long second-opinion tests that `make test` leaves out
#   make test-browser    JupyterLab in a real browser (installs Debian's chromium and playwright)
#   make site            the course as a static HTML site in build/site/ (every lecture and exercise executed)
#   make test-site       the site in a real browser: pages, images, links, navigation (builds it if missing)
#   make hub             (root) the course on JupyterHub at http://127.0.0.1:8000: users, exchange, proxy (deploy/jupyterhub)
#   make test-hub        (root) two students and an instructor through the hub in Chromium (build/hub/)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
JOBS ?= 2
# Library tests that must pass on every Keras backend (TensorFlow, JAX, PyTorch).
# CI runs CORE_TESTS on JAX too; the model tests compile every network again under XLA
# (about 15 minutes on 2 cores), so they run on the other backends with `make test-backends`.
CORE_TESTS := $(addprefix tests/course_utils/,test_shapes.py test_metrics.py test_losses.py \
	test_keras_metrics.py test_layers.py test_transposed_conv.py test_sliding_window.py test_pipeline.py)
BACKEND_TESTS := $(CORE_TESTS) tests/course_utils/test_models.py
TORCH_SPEC ?= torch==2.13.0
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo lint test test-backends test-browser browser-deps site test-site hub hub-root hub-deps test-hub quick lab release check-release clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@# Grading runs student code in a bubblewrap sandbox (Debian package bubblewrap).
	@command -v bwrap >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq bubblewrap; else echo "NOTE: grading runs student code in a bubblewrap sandbox: sudo apt-get install -y bubblewrap (or segcourse grade --sandbox docker|podman|apptainer)"; fi; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else "Python 3.11 to 3.13 is needed, found %d.%d (set PYTHON=...)" % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(BIN)/segcourse demo

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --durations=10
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n $(JOBS) -m "not slow" $(CORE_TESTS)

# Second opinions left out of `make test` (about 10 min): the training checks retrained
# outside the grader, and every validity variant run through the notebooks' own tests.
test-long: setup
	$(BIN)/python -m pytest -n $(JOBS) -m long

test-backends: setup
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n $(JOBS) -m "not slow" $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BIN)/python -m pytest -n $(JOBS) -m "not slow" $(BACKEND_TESTS)

# The real-browser test drives Debian's chromium (apt, about 500 MB) with the playwright
# package; never `playwright install` (it downloads another browser). Screenshots: build/browser/.
test-browser: browser-deps
	$(BIN)/python -m pytest -m browser -v --durations=5 tests/notebooks/test_browser.py

browser-deps: setup
	@command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq chromium; else echo "the browser test needs Debian's chromium: sudo apt-get install -y chromium"; exit 1; fi; }
	$(BIN)/python -c "import playwright, psutil" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[browser]"

# The course on JupyterHub (deploy/jupyterhub/README.md): local users with PAM passwords
# (in /srv/segcourse-hub/passwords), the exchange /srv/nbgrader/exchange, configurable-http-proxy
# from npm. Needs root: it creates users and system folders. HUB_PORT=8000 by default.
HUB_PORT ?= 8000
hub: hub-deps
	SEGCOURSE_HUB_PORT=$(HUB_PORT) $(BIN)/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

hub-root:
	@[ "$$(id -u)" = 0 ] || { echo "make $(MAKECMDGOALS) needs root (it creates users, /srv/nbgrader and /etc/jupyter): sudo make $(MAKECMDGOALS)"; exit 1; }

hub-deps: hub-root setup
	$(BIN)/python -c "import jupyterhub" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[hub]"
	deploy/jupyterhub/setup.sh

# Two students and an instructor through the hub in Chromium (tests/hub/); screenshots: build/hub/.
test-hub: hub-deps browser-deps
	$(BIN)/python -m pytest -m hub -v --durations=5 tests/hub

# The course site (course_site/): every lecture and released exercise executed with
# COURSE_FAST=1 on $(JOBS) kernels, rendered to build/site/index.html. Solutions never.
site: setup
	$(BIN)/python -m course_site --jobs $(JOBS) --out build/site

# The site in Chromium, served on 127.0.0.1 (tests/notebooks/test_site.py); screenshots in
# build/browser/site/. Builds the site first when build/site/ has none.
test-site: browser-deps
	@test -f build/site/index.html || $(MAKE) site
	$(BIN)/python -m pytest -m browser -v --durations=5 tests/notebooks/test_site.py

lint: setup
	$(BIN)/ruff check .

quick: setup
	$(BIN)/python -m pytest -n $(JOBS) -m "not slow and not gpu"

lab: setup
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

release: setup
	$(BIN)/segcourse release

check-release: setup
	$(BIN)/segcourse check-release

clean:
	rm -rf .grading .pytest_cache

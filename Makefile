# Two commands do all the set-up on a fresh machine: `make test` and `make demo`.
# Both create .venv if missing, install the pinned requirements, build the extension
# (incrementally: nothing is recompiled when nothing changed) and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# No GPU to detect on the build machines: name the architectures to compile for.
export TORCH_CUDA_ARCH_LIST ?= 8.0;9.0
PYTEST_ARGS ?=

.PHONY: build test demo check bench test-asan clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.requirements: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.editable: setup.py $(VENV)/.requirements
	$(PY) -m pip install -q --no-build-isolation -e .
	touch $@

build: $(VENV)/.editable
	$(PY) setup.py -q build_ext --inplace

test: build
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

demo: build
	$(PY) -m torchext demo

check: build
	$(PY) -m torchext check

bench: build
	$(PY) -m torchext bench

clean:
	rm -rf build torchext/*.so

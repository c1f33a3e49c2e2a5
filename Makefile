# Two commands do all the set-up on a fresh machine: `make test` and `make demo`.
# Both create .venv if missing, install the pinned requirements, build the extension
# (incrementally: nothing is recompiled when nothing changed) and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# No GPU to detect on the build machines: name the architectures to compile for.
export TORCH_CUDA_ARCH_LIST ?= 8.0;9.0
PYTEST_ARGS ?=

.PHONY: build test demo check bench test-asan gpu-check clean

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

# AddressSanitizer + UndefinedBehaviorSanitizer: the extension is built from a copy of the tree in
# build/asan/src (objects in build/asan/temp, so rebuilds are incremental), leaving the normal
# torchext/_C*.so alone; the op-family tests then run on that copy with libasan preloaded into
# Python (detect_leaks=0: CPython leaks by design; allocator_may_return_null=1: an absurd size
# fails as torch's allocation error, as without ASan). Any sanitizer report aborts the run.
ASAN_DIR := build/asan
ASAN_TESTS ?= tests/test_activation.py tests/test_elementwise.py tests/test_sum.py tests/test_views.py \
	tests/test_matmul.py tests/test_bce.py tests/test_conv2d.py tests/test_winograd.py tests/test_linear.py \
	tests/test_batch_norm.py tests/test_pooling.py tests/test_sgd.py tests/test_fuzz_parity.py \
	tests/test_hostile_input.py
# libstdc++ is preloaded too: the python binary does not link it, and ASan's __cxa_throw
# interceptor must find it when it starts (else the first C++ exception aborts).
ASAN_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

test-asan: $(VENV)/.requirements
	rm -rf $(ASAN_DIR)/src && mkdir -p $(ASAN_DIR)/src
	tar -c --exclude=__pycache__ --exclude='*.so' setup.py extension torchext tests | tar -x -C $(ASAN_DIR)/src
	cd $(ASAN_DIR)/src && TORCHEXT_SANITIZE=address TORCHEXT_CUDA=0 $(abspath $(PY)) setup.py -q \
		build_ext --inplace --build-temp ../temp
	cd $(ASAN_DIR)/src && $(ASAN_ENV) PYTHONPATH=. $(abspath $(PY)) -m pytest -q -p no:cacheprovider \
		$(ASAN_TESTS) $(PYTEST_ARGS)

# The checks that need a GPU (tools/gpu_check/run.py): on a lent machine, whose own torch the
# extension is built against, so this python is the project's .venv only where one exists.
# Without a CUDA device it says so and exits 0.
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
gpu-check:
	$(GPU_PYTHON) tools/gpu_check/run.py

clean:
	rm -rf build torchext/*.so

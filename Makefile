# `make demo` and `make test` each build their own virtual environment on first
# use (re-built when pyproject.toml changes), so a fresh clone needs nothing
# but python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BENCH_VENV := .venv-bench
BENCH_PY   := $(BENCH_VENV)/bin/python
GPU_VENV   := .venv-gpu
GPU_PY     := $(GPU_VENV)/bin/python
# CUDA jax where an NVIDIA driver is present, the CPU build elsewhere.
GPU_JAX    := $(if $(shell command -v nvidia-smi 2>/dev/null),jax[cuda12],jax)
BENCH_GPU_ARGS ?=

.PHONY: demo test test-keras bench bench-gpu clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) notebooks/demo.py

# pytest exits 5 when it collects no test; that is not a failure of the code.
test: $(VENV)/.installed
	$(PY) -m pytest -q -m "not keras" --durations=15 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

# The peers (Keras 3 on JAX, TensorFlow, scikit-learn, dm_pix, pyarrow) live in
# their own environment: the product never imports them. matplotlib draws
# benchmarks/scaling.py's curves.
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e ".[test]" keras tensorflow-cpu scikit-learn dm-pix \
	  pyarrow matplotlib
	touch $@

# Live parity tests against Keras (optional group).
test-keras: $(BENCH_VENV)/.installed
	$(BENCH_PY) -m pytest -q -m keras tests

# One run: RESULTS.md and the README's tables, then the scaling curves.
bench: $(BENCH_VENV)/.installed
	$(BENCH_PY) benchmarks/run_all.py
	$(BENCH_PY) benchmarks/scaling.py

# The device benchmarks (benchmarks/run_accelerator.py, under 8 minutes) on
# whatever accelerator JAX sees; tensorflow-cpu serves Keras' lookup layers
# without taking GPU memory. BENCH_GPU_ARGS=--quick for a short run.
$(GPU_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_PY) -m pip install --quiet --upgrade pip
	$(GPU_PY) -m pip install --quiet -e ".[fast]" "$(GPU_JAX)" keras tensorflow-cpu dm-pix
	touch $@

bench-gpu: $(GPU_VENV)/.installed
	$(GPU_PY) benchmarks/run_accelerator.py $(BENCH_GPU_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(GPU_VENV) .pytest_cache .hypothesis

# `make demo` and `make test` each build their own virtual environment on first
# use (re-built when pyproject.toml changes), so a fresh clone needs nothing
# but python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BENCH_VENV := .venv-bench
BENCH_PY   := $(BENCH_VENV)/bin/python

.PHONY: demo test test-keras bench clean

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

# The peers (Keras 3 on JAX, TensorFlow, scikit-learn, dm_pix) live in their
# own environment: the product never imports them.
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e ".[test]" keras tensorflow-cpu scikit-learn dm-pix
	touch $@

# Live parity tests against Keras (optional group).
test-keras: $(BENCH_VENV)/.installed
	$(BENCH_PY) -m pytest -q -m keras tests

bench: $(BENCH_VENV)/.installed
	$(BENCH_PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .hypothesis

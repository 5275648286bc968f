# Two commands on a fresh clone: `make report` and `make test`. Both create .venv when needed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := constraints.txt
LOCK_VENV := build/lock-venv
# Replications of `make report`: adaptive by default (revsim report's --precision); REPS=N fixes them.
REPS ?=

# The baseline first, then every what-if (no duplicates).
WHAT_IFS := $(filter-out scenarios/baseline.yaml,$(sort $(wildcard scenarios/*.yaml)))
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

# Tests never read or write the user's Jupyter/IPython settings.
JUPYTER_TEST := $(CURDIR)/.jupyter-test
TEST_ENV := JUPYTER_CONFIG_DIR=$(JUPYTER_TEST)/config JUPYTER_DATA_DIR=$(JUPYTER_TEST)/data \
	JUPYTER_RUNTIME_DIR=$(JUPYTER_TEST)/runtime IPYTHONDIR=$(JUPYTER_TEST)/ipython

# debugpy (pulled in by ipykernel) warns about frozen modules on every kernel start.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: all test test-fast jupyter-test report lab offsite bench bench-engine bench-report validate lock clean distclean

all: test

# Reinstall only when pyproject.toml or the lock changes. Every version comes from $(LOCK)
# (pip, and setuptools, which builds the editable install without a download). rfc3987-syntax
# (an optional jsonschema format checker pulled in by jupyter-events) costs ~1.5 s on every
# papermill/altair import; jsonschema works without it, which the last line checks.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c $(LOCK) pip setuptools
	$(BIN)/python -m pip install -c $(LOCK) --no-build-isolation -e '.[dev]'
	$(BIN)/python -m pip uninstall -y rfc3987-syntax
	$(BIN)/python -c "import jsonschema, jupyter_events"
	touch $@

# Refresh the lock: the newest versions pyproject.toml allows, resolved in a throwaway venv
# with this machine's $(PYTHON) (CI's). Then `make test` reinstalls from it; commit it if green.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --upgrade pip setuptools
	$(LOCK_VENV)/bin/python -m pip install -e '.[dev]'
	{ echo "# Pinned versions: \`make\` installs with -c $(LOCK). Refresh: \`make lock && make test\`, commit if green."; \
	  echo "# Resolved with $$($(LOCK_VENV)/bin/python -c 'import platform as p; print("Python", p.python_version(), "on", p.system(), p.machine())')."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf $(LOCK_VENV)

$(VENV): $(STAMP)

# The suite and the notebooks on three workers (two cores: a worker often waits on a
# subprocess, a kernel or a browser), a file per worker at a time (its module fixtures built
# once; a notebook's cells in one kernel, in order), the 20 slowest tests listed at the end.
# `make test-fast`: the same without the slow end-to-end checks (`e2e`: report builds,
# browser, notebooks, install, Dask, kills, whole company histories) and the statistical
# checks over many replications (`slow`: theory, direction of effect, recovery).
PYTEST := $(TEST_ENV) $(BIN)/python -m pytest
PARALLEL := -n 3 --dist loadfile --durations=20

test: $(STAMP) jupyter-test
	$(BIN)/ruff check sim tests benchmarks scripts
	$(PYTEST) tests $(if $(NOTEBOOKS),--nbval-lax notebooks) $(PARALLEL)

test-fast: $(STAMP) jupyter-test
	$(BIN)/ruff check sim tests benchmarks scripts
	$(PYTEST) tests $(PARALLEL) -m "not e2e and not slow"

jupyter-test:
	mkdir -p $(JUPYTER_TEST)/config $(JUPYTER_TEST)/data $(JUPYTER_TEST)/runtime $(JUPYTER_TEST)/ipython

report: $(STAMP)
	$(BIN)/revsim report scenarios/baseline.yaml $(WHAT_IFS) $(if $(REPS),--reps $(REPS)) --out reports

lab: $(STAMP)
	$(BIN)/jupyter lab --allow-root --no-browser --ip=127.0.0.1 notebooks

# The offsite dashboard on 127.0.0.1 (the address is printed); SCENARIO=file picks the base.
SCENARIO ?= scenarios/baseline.yaml
offsite: $(STAMP)
	$(BIN)/revsim offsite $(SCENARIO)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The engine's speed target alone: the large scenario against the process-per-lead reference.
bench-engine: $(STAMP)
	$(BIN)/python -m benchmarks.engine

# The report targets (issue 27): 2 scenarios x 20 reps and the bundled report, cold and with
# nothing changed, MET / NOT MET; REFERENCE=../main times that checkout side by side.
bench-report: $(STAMP)
	$(BIN)/python -m benchmarks.report_bench --bundled $(if $(REFERENCE),--reference $(REFERENCE))

validate: $(STAMP)
	$(BIN)/revsim validate scenarios/*.yaml

clean:
	rm -rf reports .jupyter-test .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# ssbimage — two-command quick start: `make demo` and `make test`.
# Works on a fresh Debian machine with Python 3.11, pip, make and apt.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := sample_volumes/cathode/image.ome.zarr
RESULTS := results/demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages installed only when missing: `python3-venv` provides
# ensurepip for Debian's own Python (pyenv/python.org builds have it already).
define apt_install
	missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: demo test bench install lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(call apt_install,python3-venv); }
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies or the lock change.
$(STAMP): $(BIN)/python pyproject.toml requirements-lock.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# The demo trains a classifier on scribbles of a second phantom (seed 2), then
# analyses the bundled cathode (seed 1) with it and prints the metrics beside
# the sample's ground truth.
demo: $(STAMP)
	$(BIN)/ssbimage info $(SAMPLE)
	$(BIN)/ssbimage sample cathode --seed 2 --out $(RESULTS)/training --overwrite > /dev/null
	$(BIN)/ssbimage train $(RESULTS)/training/image.ome.zarr \
		--annotations $(RESULTS)/training/image.ome.zarr --annotations-dataset labels/phases \
		--per-class 10000 --out $(RESULTS)/classifier.joblib
	$(BIN)/ssbimage analyze $(SAMPLE) --sample cathode \
		--classifier $(RESULTS)/classifier.joblib --trust-classifier \
		--truth sample_volumes/cathode/truth.csv --out $(RESULTS)/cathode --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The benchmark suite (benchmarks/README.md): ours against the naive pipeline and
# PoreSpy, written to benchmarks/results/ and docs/performance.md. PoreSpy gets its
# own environment: it pins edt<3.1 and brings packages ssbimage does not need. BENCH_ARGS=--big adds 2048³.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: requirements-lock.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	grep -v '^edt==' requirements-lock.txt > $(BENCH_VENV)/constraints.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -c $(BENCH_VENV)/constraints.txt porespy zarr
	@touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/bench.py --docs $(BENCH_ARGS)

# Record the tested set of versions after changing dependencies.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^ssbimage' > requirements-lock.txt

clean:
	rm -rf $(VENV) $(BENCH_VENV) results .pytest_cache

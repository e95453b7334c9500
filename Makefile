# afb-spawn — developer entry points. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 1234
CONFIG ?= conf.d/sample-basic.yaml

.PHONY: all setup run test bench lint clean

all: setup

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py afbspawn/sandbox/launcher_build.py $(wildcard afbspawn/sandbox/*.c afbspawn/sandbox/*.h)
	./scripts/sysdeps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: setup
	$(VENV)/bin/afb-spawn --config $(CONFIG) --port $(PORT) --roothttp htdocs

test: setup
	$(PY) -m pytest -q test

bench: setup
	$(PY) bench/compare.py

lint: setup
	$(PY) -m pip install -q ruff
	$(VENV)/bin/ruff check afbspawn test bench

clean:
	rm -rf $(VENV) build *.egg-info afbspawn/sandbox/_launcher*.so

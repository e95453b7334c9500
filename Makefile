# afb-spawn — developer entry points. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 1234
CONFIG ?= conf.d/sample-basic.yaml
DIST   ?= dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
SDIST  := $(DIST)/afb_spawn-$(VERSION).tar.gz
# Debian's rpmbuild cannot see dpkg's packages: BuildRequires are checked by sysdeps.sh instead.
RPMBUILD_NODEPS := $(if $(wildcard /etc/debian_version),--nodeps)

.PHONY: all setup run test bench lint clean dist rpm

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
	$(VENV)/bin/ruff check afbspawn test bench scripts bindings

# The wheel and the sdist (the RPM's Source0) into $(DIST)/.
dist: setup
	rm -f $(DIST)/afb_spawn-$(VERSION)*
	$(PY) -m build --outdir $(DIST) .

# The binary and source RPMs into $(DIST)/, built from the sdist by rpm/afb-spawn.spec.
rpm: setup
	test -f $(SDIST) || $(MAKE) dist
	top=$$(mktemp -d) && trap 'rm -rf "$$top"' EXIT && \
	rpmbuild -ba $(RPMBUILD_NODEPS) --define "_topdir $$top" --define "_sourcedir $(abspath $(DIST))" \
	    --define "_rpmdir $(abspath $(DIST))" --define "_srcrpmdir $(abspath $(DIST))" \
	    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" rpm/afb-spawn.spec

clean:
	rm -rf $(VENV) build dist *.egg-info afbspawn/sandbox/_launcher*.so

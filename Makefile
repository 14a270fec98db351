# Mahalle — every target bootstraps .venv itself (uv when present, pip otherwise), from requirements.lock:
# exact versions with hashes, compiled from pyproject.toml (Python 3.11, Linux x86_64) by `make lock`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements.lock
# Reinstall whenever the lock or pyproject.toml (entry points, package data) changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) 2>/dev/null | cksum | cut -d' ' -f1)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/mahalle
# pytest-xdist workers: 2 is the fastest on a 2-core machine; 0 runs the suite in one process.
PYTEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/pytest --ds=config.settings_test -n $(PYTEST_WORKERS)

# The dependency lists of pyproject.toml, summed up; `make lock` writes it at the end of the lock, so that an
# install from a lock that no longer matches pyproject.toml stops with a clear message.
DEPS_KEY = $(shell $(PYTHON) -c 'import hashlib, json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(hashlib.sha256(json.dumps([p["requires-python"], p["dependencies"], p["optional-dependencies"]], sort_keys=True).encode()).hexdigest()[:16])')
DEPS_LINE = \# pyproject.toml dependencies: $(DEPS_KEY)
LOCK_FLAGS = --extra dev --generate-hashes --output-file $(LOCK)

.PHONY: install lock lock-upgrade demo test test-sqlite test-postgres lint bench serve worker clean

# Editable installs cannot be hash-checked: the dependencies come from the lock (hashes required), then the
# project itself is installed with --no-deps, built by the locked setuptools (--no-build-isolation).
$(STAMP): pyproject.toml $(LOCK)
	@grep -qxF '$(DEPS_LINE)' $(LOCK) || { echo "$(LOCK) does not match the dependencies in pyproject.toml: run 'make lock'" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
	  uv pip sync --python $(PY) --require-hashes $(LOCK) && \
	  uv pip install --python $(PY) --no-deps --no-build-isolation -e .; \
	else \
	  $(PY) -m pip install --quiet --require-hashes --no-deps -r <(awk '/^pip==/ {p = 1; print; next} p && /--hash=/ {print; next} {p = 0}' $(LOCK)) && \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK) && \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .; \
	fi
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# Re-resolve requirements.lock after a change to pyproject.toml, keeping every pin that still fits;
# `make lock-upgrade` moves every package to its newest release allowed by pyproject.toml.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
	  uv pip compile pyproject.toml $(LOCK_FLAGS) --custom-compile-command 'make lock' \
	    --python-version 3.11 --python-platform x86_64-unknown-linux-gnu $(UPGRADE); \
	else \
	  $(PY) -m piptools --version >/dev/null 2>&1 || $(PY) -m pip install --quiet pip-tools; \
	  CUSTOM_COMPILE_COMMAND='make lock' $(PY) -m piptools compile --quiet $(LOCK_FLAGS) --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-find-links $(UPGRADE) pyproject.toml; \
	fi
	@echo '$(DEPS_LINE)' >> $(LOCK)

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

# The whole suite on the embedded database (SQLite), on both cores. Set DATABASE_URL to run it on PostgreSQL.
test: lint
	$(PYTEST)

# Each xdist worker makes its own test database, test_mahalle_<pid>_gw<N>, so concurrent runs never collide.
test-postgres: $(STAMP)
	DATABASE_URL=$(PG_TEST_URL) $(PYTEST)

demo: $(STAMP)
	DEBUG=$${DEBUG:-1} $(VENV)/bin/mahalle demo

bench: $(STAMP)
	@for b in bench/*.py; do [ "$$b" = bench/common.py ] && continue; echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf var/ .pytest_cache .ruff_cache

# Compile the translations (mahalle/locale/*/django.po -> .mo) with polib; no gettext tools needed.
.PHONY: messages
messages: $(STAMP)
	$(PY) mahalle/locale/compile.py

# Mahalle — every target bootstraps .venv itself (uv when present, pip otherwise).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/mahalle

.PHONY: install demo test test-sqlite test-postgres lint bench serve worker clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then uv pip install --python $(PY) -e '.[dev]'; \
	else $(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e '.[dev]'; fi
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

# The whole suite on the embedded database (SQLite). Set DATABASE_URL to run it on PostgreSQL.
test: lint
	$(VENV)/bin/pytest --ds=config.settings_test

test-postgres: $(STAMP)
	DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest --ds=config.settings_test

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

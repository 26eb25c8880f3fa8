# metaorder — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint bench reflector venues clean

install: $(STAMP)

# Re-installs only when pyproject.toml changed (or the venv is missing): quick when nothing changed.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "metaorder needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $(STAMP)

run: install
	$(VENV)/bin/metaorder run --config configs/metaorder.toml

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/run.py --readme README.md

reflector: install
	$(VENV)/bin/metaorder reflector --port 9878 --sender-comp-id ISLD --target-comp-id TW44 --target-comp-id TW --store var/reflector.db

venues: install
	$(VENV)/bin/metaorder venues --config configs/venues.toml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

# metaorder — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint bench bench-tools reflector venues clean

# The modules compiled with mypyc (src/metaorder/native.py): editing one means compiling again.
NATIVE := $(shell sed -n 's|^    "metaorder\.\(.*\)",$$|\1|p' src/metaorder/native.py | sed 's|\.|/|g; s|^|src/metaorder/|; s|$$|.py|')

install: $(STAMP)

# Re-installs only when pyproject.toml, setup.py or a compiled module changed (or the venv is
# missing): quick when nothing changed.  Compiling takes a minute or two.
$(STAMP): pyproject.toml setup.py src/metaorder/native.py $(NATIVE)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "metaorder needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	find src -name '*.so' -delete  # a module taken off the compiled list must not leave its old build
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $(STAMP)

run: install
	$(VENV)/bin/metaorder run --config configs/metaorder.toml

# Two worker processes, each taking whole test files (--dist loadfile: a file's tests share their
# fixtures and never race each other): 11.7 min serially on 2 cores, 8.8 min so.  TEST_JOBS=0: serial.
TEST_JOBS ?= 2
test: install
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

# The load generator, the floor and the QuickFIX C++ baseline (bench/*.c, bench/*.cpp) into build/bench/.
bench-tools:
	$(PYTHON) bench/native_tools.py

bench: install bench-tools
	$(PY) bench/run.py --readme README.md

reflector: install
	$(VENV)/bin/metaorder reflector --port 9878 --sender-comp-id ISLD --target-comp-id TW44 --target-comp-id TW --store var/reflector.db

venues: install
	$(VENV)/bin/metaorder venues --config configs/venues.toml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	find src -name '*.so' -delete

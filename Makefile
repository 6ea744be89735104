VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-test
TYPED := core storage handlers adapters bot bench

.PHONY: test test-fast demo lint bench clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/pytest -q

# Day-to-day lane: no process-starting tests, no PostgreSQL rows (`make test` runs everything),
# spread over WORKERS processes (pytest-xdist; `make test-fast WORKERS=0` runs in one). Python
# may write bytecode here even where the shell says not to: every worker imports and
# assert-rewrites ~250 modules, seconds of CPU per run when nothing is cached.
WORKERS ?= auto
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -n $(WORKERS) -m "not slow and not postgres"

demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(VENV)/bin/coverwatch --db sqlite:///demo.db demo

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy $(TYPED)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) *.db .pytest_cache .mypy_cache .ruff_cache

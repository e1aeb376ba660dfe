# Two commands do everything: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# First-party plugins, installed beside the core exactly as a third party's would be.
PACKAGES := connectors/greenhouse connectors/workday plugins/postgres examples/connector

$(STAMP): $(BIN)/python pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(foreach p,$(PACKAGES),-e '$(p)[test]')
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assessio-connect demo

test: lint typecheck pytest docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir .site

bench: $(STAMP)
	$(BIN)/python benchmarks/client_and_signing.py
	$(BIN)/python benchmarks/runtime.py $(RUNTIME_ARGS)
	$(BIN)/python benchmarks/postgres.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis .site

# Two commands are the whole set-up on a fresh machine: `make run` and `make test`.
# Both create .venv and install the project on first use; later calls reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TARGET ?= duckdb

.PHONY: install run build test ui docs bench bench-sync lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/cdp run

build: install
	$(BIN)/cdp build --target $(TARGET)

docs: install
	$(BIN)/cdp docs

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check orchestration sync tests bench

clean:
	rm -rf .cdp target logs

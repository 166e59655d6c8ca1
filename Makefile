# Two commands are the whole set-up on a fresh machine: `make run` and `make test`.
# Both create .venv and install the project on first use; later calls reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TARGET ?= duckdb

.PHONY: install run build test test-fast test-slow ui serve docs bench bench-sync bench-identity bench-freshness lint clean chromium

# pip's own output (and any index warnings of the machine's pip configuration) goes to .venv/install.log;
# the terminal gets one line, or the log's last lines when the install fails.
$(STAMP): pyproject.toml
	@echo "installing the project into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install -q --upgrade pip && $(BIN)/python -m pip install -q -e '.[dev,spark]'; } \
	  > $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/cdp run

# make build ARGS="--full-refresh" (or --select ..., -v): the options go to `cdp build`
build: install
	$(BIN)/cdp build --target $(TARGET) $(ARGS)

ui: install
	$(BIN)/cdp ui

# the pipeline as a service: a run whenever deliveries land in CDP_RAW_DIR (docs/continuous.md)
serve: install
	$(BIN)/cdp serve

docs: install
	$(BIN)/cdp docs

# Browser tests need Debian's chromium; install it when missing (root on these machines, or sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The Spark tests (a JVM, mostly waiting on Spark's planner) run beside the others, with their own dbt target
# and log folders so the two never write one manifest; the machine's two cores are otherwise half idle.
test: install chromium
	$(BIN)/ruff check cdp orchestration sync datagen predict scripts tests bench
	@mkdir -p .cdp
	@DBT_TARGET_PATH=target/beside-tests DBT_LOG_PATH=logs/beside-tests \
		$(BIN)/python -m pytest -q -p no:cacheprovider -m "spark or beside" --durations=10 > .cdp/beside-tests.log 2>&1 & \
	beside=$$!; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not spark and not beside" --durations=15; rest=$$?; \
	wait $$beside; besiderc=$$?; \
	echo "--- Spark tests and plain dbt builds (run alongside: pytest -m 'spark or beside') ---"; \
	cat .cdp/beside-tests.log; \
	test $$rest -eq 0 -a $$besiderc -eq 0

test-fast: install
	$(BIN)/ruff check cdp orchestration sync datagen predict scripts tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "fast and not spark" --durations=5

test-slow: install chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "slow and not spark" --durations=15

lint: install
	$(BIN)/ruff check cdp orchestration sync datagen predict scripts tests bench

bench: install
	$(BIN)/python bench/identity_bench.py
	$(BIN)/python bench/predict_bench.py

bench-sync: install
	$(BIN)/python bench/sync_bench.py

bench-identity: install
	$(BIN)/python bench/identity_accuracy.py

# deliveries every 30 s while cdp serve syncs to the CRM sandbox (ARGS="--persons 100000 --minutes 10")
bench-freshness: install
	$(BIN)/python bench/freshness.py $(ARGS)

clean:
	rm -rf .cdp target logs

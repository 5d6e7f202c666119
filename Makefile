# Two commands do everything on a fresh machine:
#   make demo   set up, start the local stack, run the pipeline three times, print the reports, stop
#   make test   set up and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test test-fast test-localstack lint bench chromium clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) is required (PyCaret 3.3 supports Python 3.11 only)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements/lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Headless Chromium renders the HTML reports in the tests (Debian's package).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(BIN)/mlops demo

# Two workers, one test file at a time each (a file's tests share its stack or fixtures), in collection order so
# the long e2e files start first.
test: setup chromium
	$(BIN)/pytest -q -p no:cacheprovider -m "not localstack" -n 2 --dist loadfile --no-loadscope-reorder

# The unit tier and the functional tier without the tests that train models: every step's branches on
# in-memory fakes, the API's routes, the adapters. No emulator, no Chromium.
test-fast: setup
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/functional -m "not slow" -n 2 --dist loadfile

# Opt-in: LocalStack 4.14 in host mode (Python 3.13, no Docker) in .venv-localstack/, template.yaml deployed to it
# by our deployer; see tests/localstack/. About two minutes, plus about two for the first venv.
PYTHON_LOCALSTACK ?= python3.13
LOCALSTACK_VENV := .venv-localstack

$(LOCALSTACK_VENV)/.installed: tests/localstack/requirements.txt
	@$(PYTHON_LOCALSTACK) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { \
	  echo "make: LocalStack 4.14 in host mode needs Python 3.13: set PYTHON_LOCALSTACK to one ($(PYTHON_LOCALSTACK) is not)"; exit 1; }
	$(PYTHON_LOCALSTACK) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(LOCALSTACK_VENV)/bin/pip install --quiet -r tests/localstack/requirements.txt
	touch $@

test-localstack: setup $(LOCALSTACK_VENV)/.installed
	MLOPS_LOCALSTACK_PYTHON=$(abspath $(LOCALSTACK_VENV))/bin/python $(BIN)/pytest -q -p no:cacheprovider -m localstack tests/localstack

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

bench: setup
	$(BIN)/python bench/bench_drift.py
	$(BIN)/python bench/bench_bootstrap.py
	$(BIN)/python bench/bench_predict.py

clean:
	-$(BIN)/mlops down 2>/dev/null
	-$(BIN)/mlops reset
	rm -rf .venv-localstack

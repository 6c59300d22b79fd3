# Two entry points that work on a fresh machine (see README):
#   make quickstart   set up .venv and run the quickstart experiment locally (CPU, offline)
#   make test         set up .venv and run lint (ruff), types (mypy --strict) and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch cached on our machines; a plain `torch` requirement pulls GBs of CUDA wheels.
TORCH ?= torch==2.13.0

.PHONY: setup quickstart test lint typecheck bench clean crd

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/w2sctl run examples/quickstart.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/tools/mypy_check.py

test: lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/bench/train_throughput.py
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/bench/inference.py

crd: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python -c "from ensemw2s.operator.crd import main; main()"

clean:
	rm -rf $(VENV) runs build *.egg-info

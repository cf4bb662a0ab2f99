# imagegen: `make run` starts the whole system locally; `make test` installs what it needs and tests it.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

# uv manages the Python environment; when it is not installed, a private copy is bootstrapped
# from PyPI into .tools/ (nothing is installed system-wide).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTHON := .venv/bin/python
PROTO_FILES := $(shell cd protos && find imagegen -name '*.proto' | sort)
STATE_DIR ?= .local
NAME ?= team
PLAN ?= free

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

# buf lints and formats protos/; it comes from the npm registry, pinned, into .tools/.
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf

$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION)

.PHONY: sync
sync: $(UV) ## install the locked Python environment into .venv
	@$(UV) sync --frozen --quiet

.PHONY: proto
proto: sync ## regenerate gen/python from protos/
	rm -rf gen/python/imagegen
	$(PYTHON) -m grpc_tools.protoc -I protos --python_out=gen/python --grpc_python_out=gen/python \
		--pyi_out=gen/python $(PROTO_FILES)

.PHONY: proto-check
proto-check: sync ## fail when gen/python differs from what protos/ generates
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m grpc_tools.protoc -I protos --python_out=$$tmp --grpc_python_out=$$tmp \
		--pyi_out=$$tmp $(PROTO_FILES) && \
	diff -r -x __pycache__ $$tmp/imagegen gen/python/imagegen || \
	{ echo "gen/python is stale: run 'make proto' and commit the result" >&2; exit 1; }

.PHONY: proto-lint
proto-lint: $(BUF) ## buf lint (STANDARD) and buf format check of protos/
	cd protos && ../$(BUF) lint && ../$(BUF) format --diff --exit-code

.PHONY: lint
lint: sync ## ruff lint and format check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

.PHONY: fmt
fmt: sync ## format the code
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

.PHONY: test-unit
test-unit: sync ## unit tests only (no services)
	$(UV) run --frozen pytest -m "not integration and not e2e"

.PHONY: test-integration
test-integration: sync ## integration tests against real Postgres, NATS and S3
	$(UV) run --frozen pytest -m integration

.PHONY: test-e2e
test-e2e: sync browser ## end-to-end tests of the whole stack over HTTP and in a browser
	$(UV) run --frozen pytest -m e2e

# The web app's tests drive Debian's chromium through Playwright (no browser download); as root it
# is installed from apt when missing, as the devstack installs Postgres.
CHROMIUM ?= /usr/bin/chromium

.PHONY: browser
browser: ## install Debian's chromium for the browser tests when it is missing (apt-get, as root)
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
			echo "no browser at $(CHROMIUM): install Debian's chromium (sudo apt-get install chromium)" >&2; \
			exit 1; \
		fi; \
		echo "installing Debian's chromium for the browser tests ..."; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

.PHONY: test-web
test-web: sync browser ## the web app in headless Chromium against the whole stack
	CHROMIUM_PATH=$(CHROMIUM) $(UV) run --frozen pytest tests/web

.PHONY: web-screenshots
web-screenshots: sync browser ## run the web tests and keep their screenshots in docs/screenshots/
	CHROMIUM_PATH=$(CHROMIUM) IMAGEGEN_SCREENSHOTS=docs/screenshots $(UV) run --frozen pytest tests/web

.PHONY: test
test: sync proto-check proto-lint lint browser ## everything CI runs: generated-code drift, lint, unit, integration, e2e and browser tests
	CHROMIUM_PATH=$(CHROMIUM) $(UV) run --frozen pytest

.PHONY: run
run: sync ## start the whole system locally until Ctrl-C (state and logs in .local/)
	$(PYTHON) -m imagegen_devstack --state-dir $(STATE_DIR) run

.PHONY: team
team: sync ## create a team on the running system: make team NAME=acme PLAN=basic
	@$(PYTHON) -m imagegen_devstack --state-dir $(STATE_DIR) team --name "$(NAME)" --plan "$(PLAN)"

.PHONY: check-ledger
check-ledger: sync ## prove every balance equals its ledger on the running system (make run)
	@$(PYTHON) -m imagegen_devstack --state-dir $(STATE_DIR) check-ledger

.PHONY: clean
clean: ## remove local state, the environment and caches
	rm -rf .local .venv .tools .pytest_cache .ruff_cache

# Kubernetes (deploy/k8s, see its README). Each environment is three kustomizations, applied in
# order: infra (NATS, Postgres), migrations (the Job), then the services.
K8S_OVERLAYS := local production
K8S_RENDER_DIR ?= $(STATE_DIR)/k8s-render
IMAGE_TAG ?= local
IMAGE_SERVICES := gateway models generation credits storage

.PHONY: k8s-render
k8s-render: ## render every overlay with kubectl kustomize into .local/k8s-render/<env>/
	@for env in $(K8S_OVERLAYS); do \
		mkdir -p $(K8S_RENDER_DIR)/$$env; \
		kubectl kustomize deploy/k8s/overlays/$$env/infra > $(K8S_RENDER_DIR)/$$env/1-infra.yaml; \
		kubectl kustomize deploy/k8s/overlays/$$env/migrations > $(K8S_RENDER_DIR)/$$env/2-migrations.yaml; \
		kubectl kustomize deploy/k8s/overlays/$$env > $(K8S_RENDER_DIR)/$$env/3-services.yaml; \
		echo "rendered $(K8S_RENDER_DIR)/$$env/"; \
	done

.PHONY: images
images: ## build imagegen-<service>:$(IMAGE_TAG) for every service (needs docker; context is the repo root)
	for service in $(IMAGE_SERVICES); do \
		docker build -f services/$$service/Dockerfile -t imagegen-$$service:$(IMAGE_TAG) .; \
	done

.PHONY: bench
bench: sync ## benchmarks: credits ledger vs. raw SQL; pipeline jobs/s and overhead, dispatch rate, JetStream ceiling
	$(PYTHON) bench/credits_bench.py
	$(PYTHON) bench/pipeline_bench.py

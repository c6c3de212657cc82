# OMS mesh: the two commands a newcomer needs are `make run` and `make test`.
# Everything else here is what those two are made of.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/.oms/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help run test deps proto check check-proto check-layers lint typecheck check-compose check-k8s web check-web \
        jaeger infra-up infra-down infra-status migrate seed test-unit test-integration test-e2e test-soak test-hostile bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

run: deps web infra-up jaeger ## the whole mesh with demo data; endpoints printed; Ctrl-C stops it all
	scripts/run

test: deps check infra-up ## every check and the whole suite (unit, integration, e2e) on real servers
	scripts/apt-install chromium=chromium  # the browser tests' browser (tests/e2e/test_web_browser.py)
	$(PY) -m pytest tests

# --- dependencies: everything a fresh machine needs comes from here -------------------------

deps: $(VENV)/.installed node_modules/.installed .oms/bin/.installed ## install Python, npm and Go tools

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

.oms/bin/.installed: tools/go/go.mod tools/go/go.sum scripts/tools
	scripts/tools
	touch $@

# Not part of deps: a build of minutes, needed by `make run` and the tracing e2e test only (which
# builds it itself when missing). Does nothing when the binary matches tools/jaeger/go.sum.
jaeger: ## the local trace viewer (Jaeger v2) in .oms/bin, built once per version
	scripts/tools jaeger

# --- contracts and code quality ----------------------------------------------------------------

proto: deps ## regenerate the oms package from proto/
	scripts/gen-proto

check: check-proto check-layers lint typecheck check-compose check-k8s check-web ## contracts, layering, lint, types, compose file, Kubernetes manifests, web

# --- the web front end (web/) --------------------------------------------------------------------

WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/admin.html web/vite.config.ts

web: web/dist/index.html ## build the shop and the back office (web/dist) when their sources changed

web/dist/index.html: node_modules/.installed $(WEB_SOURCES)
	npm run build

check-web: deps ## web API types match the contracts, tsc --noEmit, the front end's unit tests
	npm run check:web

check-proto: deps ## buf lint/format/breaking and generated-code drift
	scripts/check-proto

check-layers: deps ## the import contracts in pyproject.toml (services, domain, service layer, mesh, oms)
	lint-imports --no-logo

lint: deps ## ruff on the whole tree
	ruff check .

typecheck: deps ## mypy on every package
	mypy mesh order_svc inventory_svc notify_svc payment_svc gateway testkit

check-compose: deps ## the compose file against the Compose spec, also scaled (--scale order=3 ...) and with the debug profile
	scripts/check-compose

check-k8s: deps ## render deploy/k8s with kustomize and check it against the Kubernetes schemas, offline
	scripts/check-k8s

# --- infrastructure ------------------------------------------------------------------------------

infra-up: ## start PostgreSQL, Redis and Kafka (installing what is missing)
	scripts/infra up

infra-down: ## stop exactly what infra-up started
	scripts/infra down

infra-status: ## one line per server (exit 3 if one is down)
	scripts/infra status

migrate: deps infra-up ## apply every service's migrations
	eval "$$(scripts/infra env)" && $(PY) -m mesh.storage.migrate

seed: deps ## load the demo catalog into a running inventory service's database (development)
	eval "$$(scripts/infra env)" && OMS_ENV=$${OMS_ENV:-development} $(PY) -m inventory_svc.seed

test-unit: deps ## the unit tests (in-memory fakes, no servers)
	$(PY) -m pytest tests/unit

test-integration: deps infra-up ## the integration tests on the real servers
	$(PY) -m pytest tests/integration

test-e2e: deps infra-up ## the end-to-end tests (the mesh as processes)
	scripts/apt-install chromium=chromium
	$(PY) -m pytest tests/e2e

test-soak: deps infra-up ## the soak runs kept out of make test: a 3-broker Kafka cluster with brokers and replicas killed
	OMS_TEST_SOAK=1 $(PY) -m pytest tests -m soak -s

test-hostile: deps infra-up ## the hostile gRPC suite, long (OMS_HOSTILE_EXAMPLES, default here 500)
	OMS_HOSTILE_EXAMPLES=$${OMS_HOSTILE_EXAMPLES:-500} $(PY) -m pytest tests/e2e/test_grpc_hostile.py

bench: deps infra-up ## benchmarks against baselines; results in docs/benchmarks.md
	scripts/apt-install wrk=wrk  # the gateway bench's HTTP load tool (ghz comes with deps)
	$(PY) -m bench

clean: ## remove generated state (servers must be down)
	rm -rf .oms $(VENV) node_modules

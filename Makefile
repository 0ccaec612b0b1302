# mec-fabric. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
FABRIC_VERSION ?= $(shell sed -n 's/^FABRIC_VERSION_DEFAULT=//p' network/versions.env)
export FABRIC_VERSION
PYTHON ?= python3
.PHONY: help setup venv venv-ddpg images up down status render lint typecheck unit gotest integration test bench report run clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

setup: venv ## install what is missing: Docker engine (+ dockerd), Compose v2, busybox-static, the venv
	bash network/scripts/setup-host.sh

venv: .venv/.installed
.venv/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv .venv
	$(PY) -m pip install -q --upgrade pip "setuptools>=77"
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv-ddpg: .venv/.installed-ddpg ## add the DDPG extra (PyTorch, gymnasium) to the venv
.venv/.installed-ddpg: .venv/.installed
	$(PY) -m pip install -q -e '.[dev,ddpg,parquet]'
	@touch $@

images: setup ## build Fabric $(FABRIC_VERSION) from its Go module and the peer/orderer/chaincode/agent images
	bash network/scripts/build-images.sh $(FABRIC_VERSION)
	bash network/scripts/build-agent-image.sh

up: images ## start the default network and deploy the chaincode
	.venv/bin/mecfab network up

down: ## remove every container, network and volume of the default network
	@if [ -x .venv/bin/mecfab ] && docker info >/dev/null 2>&1; then .venv/bin/mecfab network down; \
	else echo "nothing to remove (no venv or no Docker engine)"; fi

status: ## show nodes, health, heights, the Raft leader and the chaincode
	.venv/bin/mecfab network status

render: venv ## re-render the committed docker-compose.yaml from network/topology.yaml
	.venv/bin/mecfab network render

lint: venv-ddpg ## ruff + mypy + go vet
	.venv/bin/ruff check orchestrator tests
	.venv/bin/mypy
	cd chaincode && go vet ./...
	cd network/ccaas-builder && go vet ./...

unit: venv-ddpg ## Python unit tests (no Docker; includes the DDPG agent's)
	.venv/bin/pytest -q tests/unit

gotest: ## Go tests of the chaincode and the ccaas builder, plus a short run of each fuzz target
	cd chaincode && go test ./...
	FUZZTIME=$${FUZZTIME:-3s} bash chaincode/fuzz.sh
	cd network/ccaas-builder && go test ./...

integration: images ## integration tests (Raft, then BFT, then swarm) on networks of their own, always torn down
	bash network/scripts/setup-host.sh --browser
	bash tests/integration/stages.sh

test: images lint unit gotest integration ## everything: lint, unit, Go, integration against live containers

bench: ## run the seed sweep (input rate stepped past saturation) against the running network
	.venv/bin/mecfab bench run benchmarks/seed-sweep.yaml

report: ## rebuild the report of the newest benchmark results folder
	.venv/bin/mecfab bench report "$$(ls -td results/bench/*/ | head -1)"

run: ## a whole task-sharing run: agents + monitor, three policies on one workload (results/runs/)
	.venv/bin/mecfab run tasks --count 100 --rate 1 --policy auction,least-loaded,random --seed 1

clean: down ## down, plus the venv and caches of this clone
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache build

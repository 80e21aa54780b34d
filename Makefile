# nexcage: `make demo` and `make test` set up everything they need on a fresh
# Debian machine (run as root), then run. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
PVESIM := $(CURDIR)/tests/pvesim/bin/pvesim
DEMO_NODE := $(CURDIR)/build/demo-node

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

.PHONY: all setup os-deps venv collection sanity-bootstrap demo test lint sanity pytest docs docs-check build clean bench

all: test

setup: os-deps venv collection sanity-bootstrap

os-deps:
	@scripts/install-os-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

# Ansible finds the collection through links into this checkout.
collection:
	@$(PYTHON) scripts/link-collection.py $(CURDIR)

sanity-bootstrap:
	@scripts/ansible-test-offline.sh

demo: setup
	rm -rf $(DEMO_NODE)
	$(PVESIM) init $(DEMO_NODE)
	$(PVESIM) run --root $(DEMO_NODE) -- $(BIN)/ansible-playbook playbooks/demo.yml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --offline --profile production

sanity: setup
	scripts/ansible-test-sanity.sh

pytest: setup
	$(BIN)/pytest -n 2

test: setup lint sanity pytest

# Speed comparisons side by side (simulated node, PVESIM_LATENCY_MS=400); writes benchmarks/RESULTS.md.
bench: setup
	$(BIN)/python benchmarks/bench.py

# Module reference pages in docs/modules are generated from each module's DOCUMENTATION.
docs: setup
	$(BIN)/python scripts/gen-module-docs.py

docs-check: setup
	$(BIN)/python scripts/gen-module-docs.py --check

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build .pytest_cache .ruff_cache

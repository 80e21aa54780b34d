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
# The first of the demo's three VMIDs. Each simulated node is a world of its own (namespaces per
# node), so the VMIDs only have to be free on the demo's node.
DEMO_VMID_BASE ?= 7101

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

.PHONY: all setup os-deps debian-template venv collection sanity-bootstrap demo test lint sanity pytest compat compat-ends
.PHONY: docs docs-check build golden requirements bench clean

all: test

setup: os-deps debian-template venv collection sanity-bootstrap

# With ../shared/pve-oracle beside the checkout (as CI has it), the Perl packages it needs too, so the
# tests that ask Proxmox's own code (tests/unit/.../test_pveconfig_corpus.py) run instead of skipping.
os-deps:
	@scripts/install-os-deps.sh
	@if [ -f ../shared/pve-oracle/oracle.pl ] && [ "$$(id -u)" = 0 ]; then $(PYTHON) scripts/record-golden.py --install-only; fi

# The Debian 12 test template (python3 inside), built once into build/templates/ (needs Debian's mirror).
debian-template: os-deps
	@scripts/build-debian-template.sh

venv: $(VENV)/.installed

# An existing environment (or a link to a shared one) is updated in place, not made again.
$(VENV)/.installed: requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
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
	$(PVESIM) run --root $(DEMO_NODE) -- $(BIN)/ansible-playbook -e demo_vmid_base=$(DEMO_VMID_BASE) playbooks/demo.yml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --offline --profile production

sanity: setup
	scripts/ansible-test-sanity.sh

pytest: setup
	$(BIN)/pytest -n 2

# The declared ansible-core range (meta/runtime.yml), proven on the built and installed collection:
# clean virtual environments in build/compat (made once, reused), ansible-doc for every module and
# role, and playbooks/demo.yml under a simulated node. `compat` runs the lowest, a middle and the
# highest version of scripts/compat.py's CORES; `make test` (and so CI) runs the lowest and the highest.
compat: setup
	$(BIN)/python scripts/compat.py

compat-ends: setup
	$(BIN)/python scripts/compat.py --ends

test: setup lint sanity pytest compat-ends

# Re-record tests/golden/ from Proxmox VE's own code in ../shared/pve-oracle (installs its Perl
# packages with apt-get; run as root). `make test` only reads the recorded corpus.
golden:
	$(PYTHON) scripts/record-golden.py

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

# requirements/dev.txt is compiled from the direct tools in requirements/dev.in.
requirements: venv
	$(BIN)/uv pip compile --quiet --python-version 3.11 --annotation-style line \
	  --custom-compile-command "make requirements" requirements/dev.in -o requirements/dev.txt

clean:
	rm -rf build .pytest_cache .ruff_cache

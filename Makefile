# antone.infra: every developer and CI task is a target here. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := .collections/ansible_collections/antone/infra
# Every Molecule scenario, or the ones named: make molecule SCENARIOS="docker"
SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help setup testbed lint unit integration molecule test sandbox sandbox-destroy build clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(COLLECTION_LINK)  ## Virtualenv with the tools, and this checkout as antone.infra

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

testbed: setup  ## A running Docker engine and the test images (rebuilt only when their recipe changed)
	$(BIN)/python tools/testbed.py build

lint: setup  ## ansible-lint (production profile) and yamllint
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production

unit: setup  ## Python unit tests (plugins, role specs, dev-ctl.sh, the test bed tool)
	$(BIN)/pytest tools tests/unit

integration: testbed  ## Every inventory rendered and checked by `docker compose config`; restic's retention
	command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic; }
	$(BIN)/pytest tests/integration

molecule: testbed  ## Every Molecule scenario (or SCENARIOS="a b")
	@passed=0; failed=0; failed_names=""; times=""; \
	for scenario in $(SCENARIOS); do \
	  echo "=== molecule test -s $$scenario"; start=$$(date +%s); \
	  if $(BIN)/molecule test -s $$scenario; then passed=$$((passed + 1)); \
	  else failed=$$((failed + 1)); failed_names="$$failed_names $$scenario"; fi; \
	  times="$$times $$scenario=$$(( $$(date +%s) - start ))s"; \
	done; \
	echo "molecule:"; echo "$$passed passed, $$failed failed"; echo "seconds per scenario:$$times"; \
	if [ $$failed -gt 0 ]; then echo "failed scenarios:$$failed_names"; exit 1; fi

test: lint unit integration molecule  ## Everything CI runs: lint, unit and integration tests, every Molecule scenario

sandbox: testbed  ## Run site.yml against a local sandbox host (a systemd container)
	$(BIN)/ansible-playbook testbed/sandbox.yml
	$(BIN)/ansible-playbook -i inventories/sandbox site.yml

sandbox-destroy: setup  ## Remove the sandbox host
	docker rm --force --volumes antone-sandbox

build: setup  ## Build the collection archive (antone-infra-VERSION.tar.gz)
	$(BIN)/ansible-galaxy collection build --force

clean:  ## Remove the virtualenv and caches (the test images stay)
	rm -rf $(VENV) .collections .ansible .pytest_cache .cache/testbed/archives

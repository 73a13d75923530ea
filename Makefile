# antone.infra: every developer and CI task is a target here. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# The scenarios stay in molecule/ (the collection's layout); saying so keeps Molecule 26 from warning
# that they should move to extensions/molecule. .venv/bin/activate exports it too, for runs by hand.
export MOLECULE_GLOB := molecule/*/molecule.yml
COLLECTION_LINK := .collections/ansible_collections/antone/infra
# The Molecule scenarios to run (all by default): make molecule SCENARIOS="docker"
SCENARIOS ?=

.PHONY: help setup testbed lint sanity unit integration molecule test sandbox sandbox-destroy build clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(COLLECTION_LINK)  ## Virtualenv with the tools, and this checkout as antone.infra
	@grep -q MOLECULE_GLOB $(VENV)/bin/activate || echo 'export MOLECULE_GLOB="molecule/*/molecule.yml"' >> $(VENV)/bin/activate

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

lint: setup  ## ansible-lint (production profile), yamllint and the changelog fragments
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint

sanity: setup  ## ansible-test sanity on the built and installed collection
	$(BIN)/python tools/sanity.py

unit: setup  ## Python unit tests (plugins, role specs, dev-ctl.sh, the test bed tool)
	$(BIN)/pytest tools tests/unit

integration: testbed  ## Every inventory rendered and checked by `docker compose config`; restic's retention
	command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic; }
	$(BIN)/pytest tests/integration

molecule: testbed  ## Every Molecule scenario, two at a time, longest first (or SCENARIOS="a b", MOLECULE_JOBS=1)
	$(BIN)/python tools/molecule_run.py $(SCENARIOS)

test: lint sanity unit integration molecule  ## Everything CI runs: lint, sanity, unit and integration tests, every Molecule scenario

sandbox: testbed  ## Run site.yml against a local sandbox host (a systemd container), with fake Cloudflare, B2 and healthchecks.io
	$(BIN)/ansible-playbook -i inventories/sandbox testbed/sandbox.yml
	$(BIN)/ansible-playbook -i inventories/sandbox site.yml

sandbox-destroy: setup  ## Remove the sandbox host and stop the fake Cloudflare API it used
	docker rm --force --volumes antone-sandbox
	pkill -f -- "cloudflare_api.py --port 18788" || true

build: setup  ## Build the collection archive (antone-infra-VERSION.tar.gz)
	$(BIN)/ansible-galaxy collection build --force

clean:  ## Remove the virtualenv and caches (the test images stay)
	rm -rf $(VENV) .collections .ansible .pytest_cache .cache/testbed/archives

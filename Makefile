# llmcloud.factory_droid: every developer and CI command starts here.
#   make demo   the main job (onboarding) on a sandbox home, with the demo vault
#   make test   every test the project has (what .ci/run calls)
# Each target bootstraps what it needs: a venv from pinned requirements, Debian packages
# through apt-get when missing, the droid client from npm into a cache outside the checkout.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/llmcloud-factory-droid
DROID_VERSION ?= 0.225.2
COLLECTION_LINK := $(CURDIR)/build/collections/ansible_collections/llmcloud/factory_droid

export PATH := $(VENV)/bin:$(PATH)
export LLMCLOUD_CACHE_DIR := $(CACHE_DIR)
export DROID_VERSION
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR := false
export PY_COLORS := 0

STAMP := $(VENV)/.installed
# What `make test` runs, in this order (hacking/run-suites.sh times each one).
SUITES ?= lint sanity units integration role-tests doc-tests differential faults molecule fleet ee-smoke build-check

.PHONY: help venv collection droid demo docs test lint sanity units integration role-tests doc-tests differential faults molecule fleet ee-smoke build-check bench ee clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r requirements/dev.txt -c requirements/constraints.txt
	touch $@

venv: $(STAMP) ## create .venv from the pinned requirements

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

collection: $(STAMP) $(COLLECTION_LINK) ## link this checkout as llmcloud.factory_droid

droid: ## install the pinned droid client into the cache
	hacking/install-droid.sh $(DROID_VERSION)

demo: collection ## run the onboarding playbook on a sandbox home (demo vault, no real key)
	hacking/demo.sh

test: collection ## every test, then a table of each suite's time and result
	MAKE="$(MAKE)" hacking/run-suites.sh $(SUITES)

docs: collection ## regenerate docs/reference/*.md and the role README's variables table
	$(VENV)/bin/python hacking/docs.py --write

lint: collection ## yamllint, ansible-lint --profile production, ruff, generated docs up to date
	tests/lint.sh

sanity: collection ## ansible-test sanity and ansible-test units
	tests/ansible-test.sh

units: collection ## pytest unit and property tests
	$(VENV)/bin/pytest -q tests/unit

integration: collection ## json_merge module through ansible-playbook
	tests/integration/run.sh

role-tests: collection droid ## byok role on a sandbox home, judged by the real droid
	tests/role/run.sh

doc-tests: collection droid ## the documented commands run as written (ansible-pull, make demo, examples); coverage
	tests/docs/run.sh

differential: collection droid ## JSONC reader/writer against the real droid, generated files and corpus
	tests/differential/run.sh

faults: collection ## kill -9, concurrency, injected faults, fuzzing, leak checks
	tests/faults/run.sh

molecule: collection droid ## Molecule scenarios on podman containers
	molecule/run.sh

fleet: collection droid ## SSH fleet: 6 sshd containers, sudo become, pipelining off/on; no-getent host
	tests/fleet/run.sh

build-check: collection ## galaxy build/install, ansible-doc, ansible-builder, changelog, core versions
	tests/build-check.sh

ee: venv droid ## execution environment: build, 20-host jobs through ansible-runner, benchmark
	tests/ee/run.sh

ee-smoke: venv droid ## execution environment: build, one job and its rerun on 2 targets
	tests/ee/run.sh --smoke

bench: collection ## benchmarks (writes benchmarks/RESULTS.md)
	benchmarks/run.sh

clean: ## remove the venv and build output (the cache outside the checkout stays)
	rm -rf $(VENV) build tests/output .pytest_cache

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

.PHONY: help venv collection droid demo test lint sanity units integration role-tests faults molecule fleet build-check bench clean

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
	tests/support/install-droid.sh $(DROID_VERSION)

demo: collection ## run the onboarding playbook on a sandbox home (demo vault, no real key)
	tests/support/demo.sh

test: lint sanity units integration role-tests faults molecule fleet build-check ## every test
	@echo "make test: all suites passed"

lint: collection ## yamllint and ansible-lint --profile production
	tests/lint.sh

sanity: collection ## ansible-test sanity and ansible-test units
	tests/ansible-test.sh

units: collection ## pytest unit and property tests
	$(VENV)/bin/pytest -q tests/unit

integration: collection ## json_merge module through ansible-playbook
	tests/integration/run.sh

role-tests: collection droid ## byok role on a sandbox home, judged by the real droid
	tests/role/run.sh

faults: collection ## kill -9, concurrency, injected faults, fuzzing, leak checks
	tests/faults/run.sh

molecule: collection droid ## Molecule scenarios on podman containers
	molecule/run.sh

fleet: collection droid ## SSH fleet: 6 sshd containers, sudo become, pipelining off/on; no-getent host
	tests/fleet/run.sh

build-check: collection ## galaxy build/install, ansible-doc, ansible-builder, changelog, core versions
	tests/build-check.sh

bench: collection ## benchmarks (writes benchmarks/RESULTS.md)
	benchmarks/run.sh

clean: ## remove the venv and build output (the cache outside the checkout stays)
	rm -rf $(VENV) build tests/output .pytest_cache

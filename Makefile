# tenant-replicator: `make demo` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TERRAFORM_VERSION := 1.11.4
# sha256 of the terraform binary inside HashiCorp's terraform_1.11.4_linux_amd64.zip
TERRAFORM_SHA256_linux_amd64 := 268000fca5c61021c6396893d9483007ba589ad9d0aaccbd7dfa8c78bf7dbe23
PLATFORM := $(shell uname -s | tr A-Z a-z)_$(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
TERRAFORM_SHA256 := $(TERRAFORM_SHA256_$(PLATFORM))
PYTEST_ARGS ?=
# two pytest workers (one per core): most end-to-end time is waiting on schedulers, so the suite halves
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: install demo test test-fast lint bench clean terraform

install: $(STAMP) terraform

$(STAMP): requirements.txt constraints.txt pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python >= 3.11 is needed (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python dependencies into $(VENV) (first time: ~1-2 min) ..."
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt > $(VENV)/pip.log 2>&1 \
		|| { grep -v "is ignored" $(VENV)/pip.log | tail -30; exit 1; }
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . >> $(VENV)/pip.log 2>&1 \
		|| { grep -v "is ignored" $(VENV)/pip.log | tail -30; exit 1; }
	@touch $(STAMP)

# Terraform: use the one on PATH when it is the pinned version; else install it checksum-verified into .venv/bin.
terraform:
	@if command -v terraform >/dev/null && terraform version 2>/dev/null | head -1 | grep -q "v$(TERRAFORM_VERSION)"; then exit 0; fi; \
	if [ -x $(BIN)/terraform ]; then exit 0; fi; \
	tmp=$$(mktemp -d); url=https://releases.hashicorp.com/terraform/$(TERRAFORM_VERSION)/terraform_$(TERRAFORM_VERSION)_$(PLATFORM).zip; \
	echo "terraform $(TERRAFORM_VERSION) not found: downloading $$url"; \
	if [ -n "$(TERRAFORM_SHA256)" ] && curl -fsSL -o $$tmp/tf.zip $$url && unzip -q -o $$tmp/tf.zip terraform -d $$tmp \
		&& echo "$(TERRAFORM_SHA256)  $$tmp/terraform" | sha256sum -c --quiet; then \
		install -m 0755 $$tmp/terraform $(BIN)/terraform; rm -rf $$tmp; \
	else rm -rf $$tmp; \
		echo "Could not install a checksum-verified terraform $(TERRAFORM_VERSION) for $(PLATFORM). Install it yourself:"; \
		echo "  https://developer.hashicorp.com/terraform/install (version $(TERRAFORM_VERSION), on PATH)"; exit 1; fi

demo: install
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/tenant-replicator demo $(if $(KEEP),--keep)

test: install
	@$(MAKE) -s browser || echo "(continuing: the browser test will say why it skips)"
	@$(MAKE) -s postgres || echo "(continuing: the Postgres and Celery E2E tests will say why they skip)"
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-fast: install
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf .work

include mk/browser.mk
include mk/postgres.mk

bench: install
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/run.py $(BENCH)

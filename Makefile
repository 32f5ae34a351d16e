# The two commands: `make run` (demo farm on the embedded default) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test lint typecheck pytest install migrate seed clean freeze axe

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# Seeds the demo farm once: seed_demo does nothing when the demo is already there.
seed: migrate
	$(PY) manage.py seed_demo --if-empty

run: seed
	$(PY) manage.py run_farm --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

# axe-core for the browser tests' accessibility checks (tests/browser.py): from npm into var/,
# not committed; its version is pinned in tests/browser.py (AXE_VERSION).
AXE := var/node/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --no-save --prefix var/node axe-core@$$(sed -n 's/^AXE_VERSION = "\(.*\)".*/\1/p' tests/browser.py)

axe: $(AXE)

pytest: install axe
	FARM_VAR_DIR=$(CURDIR)/var/test $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

freeze:
	$(PY) -m pip freeze

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

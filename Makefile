# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi.py
export BASTION_PORT := $(PORT)

# With REDIS_URL set, use that Redis instead of the embedded one.
RUN_PROCESSES := $(if $(REDIS_URL),web worker,)

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	@mkdir -p instance
	$(BIN)/flask db upgrade
	BASTION_DEMO=1 $(BIN)/flask demo seed
	@echo
	@echo "  Bastion: http://127.0.0.1:$(PORT)/   (health: http://127.0.0.1:$(PORT)/healthz)"
	@BASTION_DEMO=1 $(BIN)/flask demo logins | sed 's/^/  /'
	@echo "  Ctrl-C stops everything."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" BASTION_DEMO=1 $(BIN)/honcho -f Procfile.dev start $(RUN_PROCESSES)

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

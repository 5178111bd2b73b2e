# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi.py
export BASTION_PORT := $(PORT)

SANDBOX_PORT ?= 8025
export SANDBOX_PORT
# The demo's Murmur (when mumble-server is installed): voice and its Ice interface.
MUMBLE_PORT ?= 64738
MUMBLE_ICE_PORT ?= 6502
export MUMBLE_PORT MUMBLE_ICE_PORT

# With REDIS_URL set, use that Redis instead of the embedded one.
RUN_PROCESSES := $(if $(REDIS_URL),sandbox web worker voice mumble,)

# make run talks to the EVE sandbox (python -m sandbox) with its demo application.
run: export BASTION_ENV := development
run: export BASTION_DEMO := 1
# Links Bastion sends (forward auth's login page behind a proxy, callbacks) name its own address.
run: export PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: export EVE_SSO_URL ?= http://127.0.0.1:$(SANDBOX_PORT)
run: export EVE_ESI_URL ?= http://127.0.0.1:$(SANDBOX_PORT)/esi
run: export EVE_CLIENT_ID ?= bastion-demo
run: export EVE_CLIENT_SECRET ?= bastion-demo-secret
run: export DISCORD_API_URL ?= http://127.0.0.1:$(SANDBOX_PORT)/discord/api/v10
run: export DISCORD_AUTHORIZE_URL ?= http://127.0.0.1:$(SANDBOX_PORT)/discord/oauth2/authorize
run: export DISCORD_CLIENT_ID ?= bastion-demo-discord
run: export DISCORD_CLIENT_SECRET ?= bastion-demo-discord-secret
run: export DISCORD_BOT_TOKEN ?= bastion-demo-bot-token

.PHONY: run test lint clean esi-spec

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# ZeroC Ice for Python (for Mumble) comes from Debian's python3-zeroc-ice, installed in seconds:
# PyPI has only its C++ sources for Python 3.11, a 10-minute build here. When the machine has it
# for this Python, the venv sees it; the stamp is written only then, so a later install is picked up.
ICE_FROM := /usr/lib/python3/dist-packages
ICE_MODULES := Ice Glacier2 IceBox IceGrid IceMX IcePatch2 IceStorm
$(VENV)/.ice: | $(BIN)/python
	@site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	abi=$$($(BIN)/python -c 'import sys; print("%d%d" % sys.version_info[:2])'); \
	so=$$(ls $(ICE_FROM)/IcePy.cpython-$$abi-*.so 2>/dev/null | head -n 1); \
	if [ -n "$$so" ]; then \
	  for m in $(ICE_MODULES); do ln -sfn $(ICE_FROM)/$$m $$site/$$m; done; ln -sf $$so $$site/; touch $@; \
	  echo "ZeroC Ice from Debian's python3-zeroc-ice is linked into $(VENV)"; \
	fi

run: $(VENV)/.runtime $(VENV)/.ice
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed
	@echo
	@echo "  Bastion: http://127.0.0.1:$(PORT)/   (health: http://127.0.0.1:$(PORT)/healthz)"
	@echo "  EVE sandbox: http://127.0.0.1:$(SANDBOX_PORT)/   (the demo universe)"
	@$(BIN)/flask demo logins | sed 's/^/  /'
	@echo "  Ctrl-C stops everything."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start $(RUN_PROCESSES)

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with its own Redis, SQLite file and
# PostgreSQL schema; many tests wait on servers and browsers, so three keep two cores busy.
TEST_WORKERS ?= 3
test: $(VENV)/.dev $(VENV)/.ice
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# Refresh the kept copy of ESI's OpenAPI description: make esi-spec FROM=path/to/openapi.json
esi-spec: $(VENV)/.runtime
	@test -n "$(FROM)" || { echo "Say which file: make esi-spec FROM=path/to/openapi.json" >&2; exit 2; }
	$(BIN)/python -m sandbox.contract "$(FROM)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The two front-door commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test install install-dev system-deps lint synapse demo-matrix bench clean

run: install
	$(BIN)/crisis run

install: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): requirements.txt requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -c requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt -c requirements.lock
	touch $@

# Redis, PostgreSQL and Chromium from Debian packages, for the tests that use the real thing.
system-deps:
	scripts/system-deps.sh

# ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade) and mypy, as configured in
# pyproject.toml; make test runs it first, so CI enforces both.
lint: install-dev
	$(BIN)/ruff check crisis tests bench scripts migrations wsgi.py
	$(BIN)/mypy

# With `make run` going in another terminal: a local Synapse, a demo room linked to the demo
# community, chat, then a raid in the room (crisis bridge matrix demo).
demo-matrix: install synapse
	$(BIN)/crisis bridge matrix demo

# Synapse for the Matrix bridge's tests, in a cached venv of its own (never .venv).
synapse:
	scripts/synapse-venv.sh >/dev/null

test: install-dev system-deps lint synapse
	$(BIN)/crisis playbooks validate
	$(BIN)/crisis rules validate
	TEST_REQUIRE_SERVERS=1 $(BIN)/pytest -q

bench: install-dev
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .schemathesis

# The kit's entry points. Every target sets the kit up first, so each works as the
# first command on a fresh clone.
# The sandbox runs student code as an unprivileged user, who must be able to run the
# interpreter: prefer the system Python (world-readable) over one in a private home.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-complete

.PHONY: setup test demo bench lint format clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(SETUP_STAMP)

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@# The engine's import rules (pyproject.toml, [tool.importlinter]).
	$(VENV)/bin/lint-imports --no-cache --no-logo
	@# pytest exits 5 when it collects nothing: say so instead of passing silently.
	$(PY) -m pytest tests; status=$$?; \
	if [ $$status -eq 5 ]; then echo 'make test: pytest collected no tests' >&2; fi; exit $$status

demo: setup
	$(PY) -m autograder demo

bench: setup
	$(PY) tests/bench/run.py

lint: setup
	$(PY) -m ruff check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info

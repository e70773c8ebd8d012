# Developer entry points. `make run` and `make test` work on a fresh clone: they install into .venv
# and start a real PostgreSQL and Redis under .data/ unless DATABASE_URL / REDIS_URL are set.
PYTHON ?= python3
PYTEST_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAUNCH := $(PY) -m devstack.launch --

# platform/ is a source root, not a package (it would hide the stdlib module `platform`).
export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)
export DJANGO_SETTINGS_MODULE ?= config.settings
# Development defaults: DEBUG on (a production start needs DEBUG=0 and a SECRET_KEY; see README).
export DEBUG ?= 1

.PHONY: .venv run test verify bench lint clean-data load

.venv: $(STAMP)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[dev]'
	touch $@

run: .venv
	$(LAUNCH) $(PY) -m devstack.run_platform

test: .venv
	$(LAUNCH) $(PY) -m pytest $(PYTEST_ARGS)

verify: .venv
	$(LAUNCH) $(PY) -m pytest --run-slow $(PYTEST_ARGS)

# The browser tests (tests/dashboards) drive Debian's chromium through Playwright, never a downloaded
# browser: install it where it is missing and we may (root), else name the one prerequisite.
.PHONY: chromium
test verify: chromium
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "Prerequisite for the browser tests: Debian's chromium (sudo apt-get install -y chromium);" \
	    "without it they fail."; fi; }

BENCH_ARGS ?=
bench: .venv
	$(LAUNCH) $(PY) -m bench $(BENCH_ARGS)

# Known vulnerabilities in the installed dependencies; needs the PyPI advisory API and fails (never skips)
# when it cannot look a dependency up. `make verify` runs it too (tests/security/test_dependency_audit.py).
.PHONY: audit
audit: .venv
	$(VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off

# mypy's Django plugin imports the settings, which insist on these; no server is contacted.
lint: .venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 DATABASE_URL=$${DATABASE_URL:-postgres://lint@127.0.0.1:1/lint} \
	  REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:1/0} $(VENV)/bin/mypy

# Stop the local servers first, or they would run on without their files.
clean-data:
	if [ -x $(PY) ]; then $(PY) -m devstack.services down; fi
	rm -rf .data

# Load test against a running `make run` (another terminal), headless for LOAD_TIME, printing requests/s,
# percentiles per endpoint and failures. To measure the platform rather than the rate limiter, start it
# with higher limits: RATE_LIMIT_REQUESTS=1000000 RATE_LIMIT_USER_REQUESTS=1000000 make run
LOAD_USERS ?= 20
LOAD_TIME ?= 60s
load: .venv
	$(VENV)/bin/locust -f locustfile.py --headless -H http://127.0.0.1:8000 \
	  -u $(LOAD_USERS) -r 5 -t $(LOAD_TIME) --only-summary

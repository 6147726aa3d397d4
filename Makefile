# One command to serve (make run), one to test (make test).
VENV ?= .venv
PY := $(VENV)/bin/python
REPLICAS ?= 2
PORT ?= 8080

# The lock tool (make lock); pinned so that every refresh resolves the same way.
UV_VERSION ?= 0.13.8
# Extra arguments for make lock: LOCK_ARGS=--upgrade, LOCK_ARGS="--upgrade-package channels".
LOCK_ARGS ?=
LOCK_FLAGS := --generate-hashes --python-version 3.11 --quiet

.PHONY: install lock run test test-soak test-fast lint format cluster bench bench-search system-deps

# Exactly the versions (and files, by hash) of requirements-dev.lock, then the
# project itself without resolving anything again.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@echo "==> creating $(VENV) and installing the locked dependencies"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q --require-hashes -r requirements-dev.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Re-resolve pyproject.toml into both locks, keeping every pin it still allows
# (docs/operations.md, "Upgrading dependencies"). The runtime lock (the image's)
# is held to the dev lock's versions, so the image runs what the tests ran.
lock: install
	$(VENV)/bin/pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements-dev.lock
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -c requirements-dev.lock -o requirements.lock

run: install
	@echo "==> migrating the embedded SQLite database"
	$(PY) manage.py migrate --noinput
	@echo "==> serving on http://127.0.0.1:8000 (Ctrl+C to stop)"
	$(PY) manage.py runserver 127.0.0.1:8000

# Browser, load-balancer and Sentinel tests need Debian's Chromium, nginx and redis-sentinel
# (and an emoji font, so reactions show in screenshots).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! command -v nginx >/dev/null 2>&1 || [ ! -x /usr/bin/redis-sentinel ] \
		|| [ ! -d /usr/share/fonts/truetype/noto ]; then \
		echo "==> installing chromium, nginx, redis-sentinel and an emoji font from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx redis-sentinel fonts-noto-color-emoji >/dev/null; \
	fi

test: install system-deps
	@echo "==> running the whole suite (unit, consumer, API, replicas, browser) but the soak runs"
	$(PY) -m pytest -m "not soak" --durations=25

# The soak runs (~5 min): 10,000 connect/disconnect cycles and the benchmark's side
# profiles (shards, reactions, long polling, the reconnect storm). CI runs it after make test.
test-soak: install system-deps
	@echo "==> running the soak runs (10,000 socket cycles, the benchmark's side profiles)"
	$(PY) -m pytest -m soak --durations=10

# For iterating (under 3 min): the domain and protocol specs (unit, consumer); make test runs all.
test-fast: install
	@echo "==> running the unit and consumer specs (make test runs everything)"
	$(PY) -m pytest -m "not replicas and not browser and not slow" tests/unit tests/consumer

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

cluster: install system-deps
	$(PY) deploy/cluster.py --replicas $(REPLICAS) --port $(PORT)

bench: install
	$(PY) bench/run.py

# Search over 1,000,000 messages against icontains (bench/README.md); its own database.
bench-search: install
	$(PY) bench/search_bench.py $(ARGS)

# One command to serve (make run), one to test (make test).
VENV ?= .venv
PY := $(VENV)/bin/python
REPLICAS ?= 2
PORT ?= 8080

.PHONY: install run test test-fast lint format cluster bench system-deps

$(VENV)/.installed: pyproject.toml
	@echo "==> creating $(VENV) and installing dependencies"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

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
	@echo "==> running the whole suite (unit, consumer, API, replicas, browser)"
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not replicas and not browser and not slow"

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

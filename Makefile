# Mashang — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PORT   ?= 8000
export XDG_RUNTIME_DIR ?= /tmp/mashang-runtime
export PYTHONPATH := $(CURDIR):$(CURDIR)/platform

.PHONY: run test bench bench-smoke lint install migrate release seed worker clean-db

$(STAMP): pyproject.toml
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate_schemas --executor=multiprocessing

## A release: public, then every district in parallel, each outcome recorded (docs/releases.md).
release: $(STAMP)
	$(PY) manage.py migrate_all

seed: migrate
	$(PY) manage.py seed_demo --port $(PORT)

## Run the platform with the three demo districts (Celery worker, Celery beat and web on :$(PORT)).
run: seed
	$(PY) manage.py run_platform --port $(PORT)

## Run the whole test suite (real PostgreSQL, real Celery worker, headless Chromium).
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b"; $(PY) $$b || exit 1; done

## Every benchmark at tiny sizes (BENCH_SMOKE=1) in a throwaway database, each checked to print its figures.
bench-smoke: $(STAMP)
	$(PY) bench/_support/smoke.py

lint: $(STAMP)
	$(PY) -m ruff check .

## A Celery worker and a Celery beat, each its own process (never `worker -B`); Ctrl-C stops both.
worker: $(STAMP)
	@mkdir -p .run/dev
	@trap 'kill $$beat 2>/dev/null; wait $$beat' EXIT INT TERM; \
	$(PY) -m celery -A config beat --loglevel=INFO -s .run/dev/celerybeat-schedule & beat=$$!; \
	$(PY) -m celery -A config worker --loglevel=INFO

clean-db:
	rm -rf .pgdata .run

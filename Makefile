# Mashang — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PORT   ?= 8000
export XDG_RUNTIME_DIR ?= /tmp/mashang-runtime
export PYTHONPATH := $(CURDIR):$(CURDIR)/platform

.PHONY: run test bench bench-smoke lint install migrate release seed worker clean-db stripe-fake

## Without STRIPE_SECRET_KEY the demo bills through localstripe (a Stripe fake server, installed with
## the dev extras) on 127.0.0.1:$(STRIPE_FAKE_PORT): it lacks invoices by e-mail and meters, so those are
## off (docs/billing.md), and its events carry its own API version, accepted here only.
STRIPE_FAKE_PORT ?= 8420
ifeq ($(origin STRIPE_SECRET_KEY),undefined)
seed run: export STRIPE_API_BASE ?= http://127.0.0.1:$(STRIPE_FAKE_PORT)
seed run: export STRIPE_SUPPORTS_SEND_INVOICE ?= 0
seed run: export STRIPE_SUPPORTS_METER_EVENTS ?= 0
seed run: export STRIPE_ACCEPTED_API_VERSIONS ?= 2026-10-28.endive,2017-08-15
seed run: export STRIPE_WEBHOOK_SECRET ?= whsec_mashang_local
STRIPE_FAKE := stripe-fake
endif

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

seed: migrate $(STRIPE_FAKE)
	$(PY) manage.py seed_demo --port $(PORT)

## localstripe in the background (kept across runs; its pid and log under .run/localstripe/).
stripe-fake: $(STAMP)
	@mkdir -p .run/localstripe
	@$(PY) -c "import socket; socket.create_connection(('127.0.0.1', $(STRIPE_FAKE_PORT)), 1)" 2>/dev/null \
	  || (cd .run/localstripe && nohup $(CURDIR)/$(PY) -m localstripe --port $(STRIPE_FAKE_PORT) >localstripe.log 2>&1 & \
	      echo $$! > .run/localstripe/pid; sleep 2; echo "localstripe on 127.0.0.1:$(STRIPE_FAKE_PORT)")

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

# trainer: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ASSETS := trainer/static/govuk
export FLASK_APP := wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-postgres bench lint install assets clean browser

## run: set everything up, create the SQLite database with demo data and serve on http://127.0.0.1:5000
run: install assets instance/config.py
	$(BIN)/flask trainer init
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# A random secret key for this machine, made once and kept out of git.
instance/config.py:
	mkdir -p instance
	$(PYTHON) -c 'import secrets; print("SECRET_KEY = %r" % secrets.token_hex(32))' > $@

## test: set everything up and run the whole test suite
test: install assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: run the benchmarks under bench/ and print their figures
bench: install assets
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check trainer awards tests bench wsgi.py

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres,redis]"
	touch $@

assets: $(ASSETS)/.installed

$(ASSETS)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(ASSETS)
	mkdir -p $(ASSETS)
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css \
	   node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(ASSETS)/
	cp -r node_modules/govuk-frontend/dist/govuk/assets $(ASSETS)/assets
	touch $@

## browser: install Debian's Chromium and ChromeDriver for the browser journeys (needs root)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

clean:
	rm -rf $(VENV) node_modules $(ASSETS) .pytest_cache

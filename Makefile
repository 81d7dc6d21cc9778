# Two set-up commands: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := miniprogram_stub/node_modules/.installed
CONSOLE_STAMP := console/node_modules/.installed
CONSOLE_BUILD := console/dist/index.html
CONSOLE_SOURCES := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.js

.PHONY: run run-partner test test-python test-miniprogram test-console console bench attack worker clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(NODE_STAMP): miniprogram_stub/package.json miniprogram_stub/package-lock.json
	cd miniprogram_stub && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(CONSOLE_STAMP): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_STAMP)

$(CONSOLE_BUILD): $(CONSOLE_STAMP) $(CONSOLE_SOURCES)
	cd console && npm run build --silent

console: $(CONSOLE_BUILD)  ## build the web console (served at /console/)

run: $(STAMP) $(CONSOLE_BUILD)  ## the API, sandboxes, worker, demo data on SQLite, and the web console
	$(PY) -m app.devserver

run-partner: $(STAMP)  ## a second demo instance, Fuzhou, as Changzhou's partner city (port 8200)
	PARTNER_DEMO=1 $(PY) -m app.devserver

test: test-python test-miniprogram test-console  ## every test

test-python: $(STAMP)
	$(VENV)/bin/pytest

test-miniprogram: $(STAMP) $(NODE_STAMP)
	cd miniprogram_stub && npm test

test-console: $(STAMP) $(CONSOLE_BUILD)  ## console component tests, then end to end in Debian's headless Chromium
	.ci/browser
	cd console && npm test --silent && npm run e2e --silent

bench: $(STAMP)  ## benchmark figures (ratios), printed
	$(PY) -m bench

attack: $(STAMP)  ## attack the product on PostgreSQL (gunicorn -w 4, two workers); figures printed
	$(PY) -m bench.attack

worker: $(STAMP)  ## a stand-alone worker process (production runs several)
	$(PY) -m app.worker

clean:
	rm -rf $(VENV) var miniprogram_stub/node_modules console/node_modules console/dist

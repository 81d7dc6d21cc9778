# Two set-up commands: `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := miniprogram_stub/node_modules/.installed

.PHONY: run run-partner test test-python test-miniprogram bench attack worker clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(NODE_STAMP): miniprogram_stub/package.json miniprogram_stub/package-lock.json
	cd miniprogram_stub && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(STAMP)  ## the API, sandboxes, worker and demo data on SQLite
	$(PY) -m app.devserver

run-partner: $(STAMP)  ## a second demo instance, Fuzhou, as Changzhou's partner city (port 8200)
	PARTNER_DEMO=1 $(PY) -m app.devserver

test: test-python test-miniprogram  ## every test

test-python: $(STAMP)
	$(VENV)/bin/pytest

test-miniprogram: $(STAMP) $(NODE_STAMP)
	cd miniprogram_stub && npm test

bench: $(STAMP)  ## benchmark figures (ratios), printed
	$(PY) -m bench

attack: $(STAMP)  ## attack the product on PostgreSQL (gunicorn -w 4, two workers); figures printed
	$(PY) -m bench.attack

worker: $(STAMP)  ## a stand-alone worker process (production runs several)
	$(PY) -m app.worker

clean:
	rm -rf $(VENV) var miniprogram_stub/node_modules

# casework: `make run` brings the suite up, `make test` installs and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
BUF     := .tools/node_modules/.bin/buf
STAMP   := $(VENV)/.installed
PROTOS  := $(shell find protos -name '*.proto')
export PYTHONPATH := $(CURDIR)/lib:$(CURDIR)/tools:$(CURDIR)/gen:$(CURDIR)/services/intake:$(CURDIR)/services/clients:$(CURDIR)/services/plans:$(CURDIR)/services/documents:$(CURDIR)/services/notify:$(CURDIR)/services/feedback

.PHONY: help deps venv gen tools broker topology run stop status demo test test-unit bench chaos token replay lint proto-baseline clean

help:
	@echo "make run     start the whole suite in the background (embedded servers unless configured)"
	@echo "make stop    stop it (data stays in var/)"
	@echo "make test    install everything and run every test"
	@echo "make demo    send a partner referral through the running suite and show each step"
	@echo "make bench   referral-to-inbox latency and throughput beside a raw AMQP round trip"
	@echo "make chaos   kill every process, the database and the broker under a stream of referrals; count losses and doubles (ARGS='--small')"
	@echo "make token   print a development token (ARGS='--subject w-anna --centre ctr-north-town')"
	@echo "make replay  ARGS='dead-letters|unrouted [--dry-run]': give parked messages another go"
	@echo "make lint    ruff, mypy, import-linter layers (.importlinter), buf lint and buf breaking against protos/baseline.binpb"
	@echo "make proto-baseline  record the protos as the contracts partners rely on (see README, Events)"

# System packages: only what is missing is installed (a broker when nothing listens on 5672,
# Node.js for buf, LibreOffice with fonts for diacritics and Cyrillic for documents' PDFs:
# about 30 s). Needs root, as on the project's machines and in CI.
deps:
	@need=""; \
	if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && ! command -v rabbitmq-server >/dev/null && [ -z "$$AMQP_URI" ]; then need="$$need rabbitmq-server"; fi; \
	command -v npm >/dev/null || need="$$need nodejs npm"; \
	command -v python3 >/dev/null || need="$$need python3 python3-venv"; \
	if [ -n "$$need" ]; then echo "installing:$$need"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi
	@command -v soffice >/dev/null || { echo "installing: LibreOffice (documents' PDFs)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-writer-nogui fonts-dejavu-core fonts-liberation2; }
	@command -v kubectl >/dev/null || echo "note: kubectl not found; the deploy tests need it (https://kubernetes.io/docs/tasks/tools/)"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(STAMP)

gen/.stamp: $(PROTOS) $(STAMP)
	rm -rf gen && mkdir -p gen
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos \
	  --python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen $(PROTOS) > /dev/null
	touch $@

gen: gen/.stamp

$(BUF):
	mkdir -p .tools && cd .tools && npm install --silent --no-audit --no-fund @bufbuild/buf@1.75.0 > /dev/null

tools: $(BUF)

broker: deps venv
	$(PY) -c "from casework_dev.devstack import ensure_rabbitmq; ensure_rabbitmq()" || [ -n "$$AMQP_URI" ]

# Every consumer queue of every service, declared before anything publishes (`make run`
# does this first).
topology: venv gen broker
	$(PY) -m casework_common.topology $(ARGS)

run: deps venv gen broker
	$(PY) -m casework_dev.devstack up

stop:
	@test -x $(PY) && $(PY) -m casework_dev.devstack down || true

status: venv gen
	$(PY) -m casework_dev.devstack status

demo: venv gen
	$(PY) -m casework_dev.demo

bench: deps venv gen broker
	$(PY) -m casework_dev.bench $(ARGS)
	$(PY) -m casework_dev.bench_statistics
	$(PY) -m casework_dev.bench_plans
	$(PY) -m casework_dev.bench_documents
	$(PY) -m casework_dev.bench_notify
	$(PY) -m casework_dev.bench_feedback

# Runs a RabbitMQ node of its own, so it needs the server installed even when a broker
# elsewhere answers on 5672.
chaos: deps venv gen
	@command -v rabbitmq-server >/dev/null || apt-get install -y rabbitmq-server
	$(PY) -m casework_dev.chaos $(ARGS)

token: venv
	@$(PY) -m casework_dev.token $(ARGS)

replay: venv
	$(PY) -m casework_common.replay $(ARGS)

lint: venv gen tools
	$(VENV)/bin/ruff check lib services tests tools
	$(VENV)/bin/mypy lib services/*/casework_* tools/casework_dev
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(BUF) lint
	$(BUF) breaking --against protos/baseline.binpb

# The contracts partners and other services rely on, recorded: `make lint` fails on any
# change that breaks them. Move it only in the commit that breaks or retires a contract
# on purpose (a new `.v2` key and message are additive and need no move).
proto-baseline: tools
	$(BUF) build --exclude-source-info -o protos/baseline.binpb

test: deps venv gen tools broker
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: venv gen
	$(VENV)/bin/pytest -m "not e2e" services

clean: stop
	rm -rf $(VENV) gen .tools var .pytest_cache .mypy_cache .ruff_cache .hypothesis

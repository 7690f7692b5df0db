# Code Studio: `make run` starts everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLOWER_PORT ?= 5555

.PHONY: run test test-cluster lint toolchains deps bench bench-batch bench-files bench-live bench-perf worker flower clean
comma := ,
space := $(subst ,, )

# the Python SDK (client/: `codestudio grade` and the MCP server use it) is a package of its own, installed first
$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./client
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# the studio's browser assets (scripts/build-web), rebuilt only when web/'s sources or lockfile change
WEB_BUILT := app/web/static/dist/manifest.json
$(WEB_BUILT): web/package.json web/package-lock.json web/build.mjs $(wildcard web/src/*) scripts/build-web
	./scripts/build-web

deps: $(STAMP) toolchains $(WEB_BUILT)

toolchains:
	@./scripts/install-toolchains

run: deps
	$(BIN)/codestudio stack

test: deps
	$(BIN)/pytest $(PYTEST_ARGS)

# workers on several hosts (network namespaces; docs/cluster.md), Redis and RabbitMQ as the broker:
# also part of `make test`
test-cluster: deps
	$(BIN)/pytest tests/integration/test_cluster.py tests/integration/test_cluster_rabbitmq.py $(PYTEST_ARGS)

# static checks (CI runs them before the suite): ruff on everything; mypy on app/, strict on the
# sandbox, the worker and the client package
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: deps
	$(BIN)/python -m bench.run_bench

bench-batch: deps
	$(BIN)/python -m bench.batch

bench-files: deps
	$(BIN)/python -m bench.files

bench-live: deps
	$(BIN)/python -m bench.live

# issue 20's goals, every ratio from one run (python -m bench.perf --help: shorter runs, --only, --skip)
bench-perf: deps
	$(BIN)/python -m bench.perf

# a worker for some languages only: make worker LANGS=java,kotlin (default: all it can serve);
# KIND=interactive (lang.* queues), batch (batch.* queues) or interactive,batch (default)
KIND ?= interactive,batch
LANG_LIST := $(subst $(comma), ,$(LANGS))
QUEUE_PREFIXES := $(if $(findstring interactive,$(KIND)),lang.) $(if $(findstring batch,$(KIND)),batch.)
QUEUES := $(subst $(space),$(comma),$(strip $(foreach p,$(QUEUE_PREFIXES),$(addprefix $(p),$(LANG_LIST)))))
worker: deps
	CODESTUDIO_WORKER_KINDS=$(KIND) $(BIN)/celery -A worker:celery worker -E \
		-n $(or $(subst $(comma),-,$(LANGS)),all)-$(subst $(comma),-,$(KIND))@%h $(if $(LANGS),-Q $(QUEUES))

flower: deps
	$(BIN)/celery -A worker:celery flower --address=127.0.0.1 --port=$(FLOWER_PORT)

clean:
	rm -rf $(VENV) instance .pytest_cache

# One command runs the pipeline (`make run`), one runs the tests (`make test`).
# Both set up everything on a fresh machine: virtualenv, dependencies, Kafka jars, broker, topics.

PYTHON ?= python3
DEMO ?= 1  # `make run DEMO=0`: the pipeline alone, without the simulator, receiver and demo config
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEER_STAMP := $(VENV)/.bench-peer
# The official AsyncAPI 3.0.0 JSON Schema that tests/unit/contract/test_asyncapi.py validates
# `pipeline topics asyncapi` against: npm's @asyncapi/specs, pinned by version and digest.
ASYNCAPI_SPECS := 6.11.1
ASYNCAPI_SPECS_SHA256 := 01af8744dc33c0c7eb2e908f6a955319ee58b70ecadc9387d1aeb16c0cd28928
ASYNCAPI_SCHEMA := .cache/asyncapi-specs-$(ASYNCAPI_SPECS)/asyncapi-3.0.0.json

.PHONY: run test bench bench-state soak setup lint typecheck unit integration kafka-start kafka-stop topics clean asyncapi-schema docs docs-build docs-gen docs-serve

run: setup
	$(BIN)/pipeline run $(if $(filter 1,$(DEMO)),--demo,)

test: setup lint typecheck docs-build $(ASYNCAPI_SCHEMA)
	bash .ci/install-prometheus.sh
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests

# Test modules run side by side in TEST_WORKERS processes (pytest-xdist), a module's tests in one
# (they share its stack); the integration tests mostly wait on the broker and their subprocesses.
# TEST_WORKERS=0 runs them in this process, one after another.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile

# The docs site (mkdocs.yml, docs/): built strictly into .cache/site/, so a broken link or anchor,
# or a page missing from the nav, fails `make test`. tests/unit/docs_gen/ checks that the generated
# reference pages are current.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: docs-gen docs-build

docs-build: setup
	$(MKDOCS) build --strict

docs-gen: setup  # rewrites the generated pages of docs/reference/ from the code
	$(BIN)/python -m pipeline.docs_gen

docs-serve: setup  # http://127.0.0.1:8000, rebuilt as you edit
	$(MKDOCS) serve

bench: setup $(PEER_STAMP)  # under 15 minutes; results in bench/results/, summary in BENCHMARKS.md
	$(BIN)/python -m bench $(BENCH_ARGS)

# The bench's peer (Quix Streams, bench/peers/quix.py) is bench-only, never a pipeline dependency.
# pip cannot resolve it together with the project (quixstreams 3.28.1 asks pydantic-settings<2.16,
# the project pins 2.16.3, with which Quix runs fine), hence two steps.
$(PEER_STAMP): $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check quixstreams==3.28.1
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# The worker's state (issue 24): 5 million keys through the table layer, its recoveries, and the
# pipeline's RSS per event; about 20 minutes on 2 cores. `BENCH_STATE_ARGS="--keys 300000"`.
bench-state: setup
	$(BIN)/python -m bench state $(BENCH_STATE_ARGS)

soak: setup  # fault injection: per round one SIGKILL + restart; every accepted event accounted for
	$(BIN)/python -m bench soak $(SOAK_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

asyncapi-schema: $(ASYNCAPI_SCHEMA)

$(ASYNCAPI_SCHEMA):
	mkdir -p $(@D)
	cd $(@D) && npm pack --silent @asyncapi/specs@$(ASYNCAPI_SPECS) >/dev/null
	echo "$(ASYNCAPI_SPECS_SHA256)  $(@D)/asyncapi-specs-$(ASYNCAPI_SPECS).tgz" | sha256sum -c --quiet
	tar -xzOf $(@D)/asyncapi-specs-$(ASYNCAPI_SPECS).tgz 'package/schemas/3.0.0-without-$$id.json' > $@.tmp
	mv $@.tmp $@

lint: setup
	$(BIN)/ruff format --check pipeline tests bench
	$(BIN)/ruff check pipeline tests bench

typecheck: setup
	$(BIN)/mypy

unit: setup $(ASYNCAPI_SCHEMA)
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests/unit

integration: setup
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests/integration

kafka-start: setup
	$(BIN)/pipeline kafka start

kafka-stop: setup
	$(BIN)/pipeline kafka stop

topics: kafka-start
	$(BIN)/pipeline topics apply

clean: kafka-stop
	rm -rf var

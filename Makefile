# Upward: the two commands are `make dev` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# the first Python >= 3.11 on PATH
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)

.PHONY: dev test test-pgbouncer install lint fmt schema bench bench-credentials bench-reminders bench-development bench-mobility bench-recognition bench-partners soak clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

install: $(STAMP)  ## the virtualenv with test and dev extras

dev: $(STAMP)  ## API + worker + scheduler with demo tenants (embedded services unless URLs set)
	$(BIN)/upward dev

test: $(STAMP)  ## the whole suite
	$(BIN)/pytest -q

# the suites that show tenancy holds behind a pooler: isolation, workers (actors and worker
# processes), GraphQL (API and subscription processes) and the PgBouncer leak test
PGBOUNCER_TESTS := tests/tenancy tests/workers tests/graphql tests/scale/test_pgbouncer.py \
	$(filter-out tests/tenancy/% tests/workers/%,\
	  $(wildcard tests/*/test_isolation*.py tests/*/test_*workers.py))

test-pgbouncer: $(STAMP)  ## those suites with the app role through a PgBouncer the tests start (needs the pgbouncer binary)
	UPWARD_TEST_PGBOUNCER=1 $(BIN)/pytest -q $(PGBOUNCER_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)  ## re-export schema.graphql from the code
	$(BIN)/upward export-schema -o schema.graphql

bench: $(STAMP)  ## data generator + benchmark table (BENCH_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-credentials: $(STAMP)  ## compliance report + credential import table (BENCH_CREDENTIALS_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.credentials $(BENCH_ARGS)

bench-reminders: $(STAMP)  ## one scheduler pass over 100 tenants / 1M credentials + in-app delivery rate (BENCH_REMINDERS_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.reminders $(BENCH_ARGS)

bench-development: $(STAMP)  ## readiness of 5,000 people against their next level + careerPaths on 200 levels (BENCH_DEVELOPMENT_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.development $(BENCH_ARGS)

bench-mobility: $(STAMP)  ## match 100,000 people to one posting, one person to 1,000 postings, incremental recompute (BENCH_MOBILITY_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.mobility $(BENCH_ARGS)

bench-recognition: $(STAMP)  ## feed, leaderboards and insights over 10,000 people / 1,000,000 kudos + ledger under concurrent gives (BENCH_RECOGNITION_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.recognition $(BENCH_ARGS)

bench-partners: $(STAMP)  ## per-request overhead of API-key auth, rate limiting, APQ and cost analysis vs a plain request (BENCH_DATABASE_URL/BENCH_REDIS_URL, default: local server)
	$(BIN)/python -m bench.partners $(BENCH_ARGS)

soak: $(STAMP)  ## load and soak: web + partner mix over 100 tenants, 10 min quiet then 10 min noisy neighbour, RSS sampled (SOAK_DATABASE_URL/SOAK_REDIS_URL, default: local server)
	$(BIN)/python -m bench.soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache

# The front door: `make run` starts the product on its embedded default, `make test` installs what the
# tests need and runs them all. Nothing is expected to be running or installed beforehand.
SHELL := /bin/bash
PORT ?= 3000
CARGO ?= cargo
VENV := .venv
PYTHON ?= python3
MOTO_VERSION := 5.2.5
# A second RFC 8785 implementation, for the consumer example that verifies receipts (infra/examples/consumer.py).
RFC8785_VERSION := 0.1.4
SCHEMATHESIS_VERSION := 4.32.5
# Lambda durable functions: the SDK the waiting example uses (infra/examples/durable_approval.py) and its local
# emulator of the durable execution API (tests/durable/serve.py), both from PyPI, no Docker.
DURABLE_SDK_VERSION := 3.0.0
DURABLE_TESTING_VERSION := 1.4.0
# dynoxide (crates.io dynoxide-rs), the concurrent DynamoDB the store tests and the races run on
# (tests/dynoxide/with-dynoxide.sh says why). Built once with only the server's features and kept outside
# the work tree, so a fresh clone on the same machine (CI's) reuses it; the stamp says it is complete.
DYNOXIDE_VERSION := 3.2.0
DYNOXIDE_ROOT := $(HOME)/.cache/human-intervention/dynoxide-$(DYNOXIDE_VERSION)
DYNOXIDE_STAMP := $(DYNOXIDE_ROOT)/.installed
export DYNOXIDE := $(DYNOXIDE_ROOT)/bin/dynoxide
# Both local endpoints: moto for SQS and the Scheduler, dynoxide for DynamoDB.
WITH_AWS := tests/moto/with-moto.sh tests/dynoxide/with-dynoxide.sh
# Rounds of the 1,000-submission race (on dynoxide, no lock) in `make test`, and a tenth of the quorum race's
# and a fifth of the reminder race's rounds: a round (max-uses 1 and 5) takes about 6 s on 2 cores alone,
# 10-20 s beside the other AWS tests, and at 10 the races were most of aws-test's time. 3 still runs every race
# on every build (6,000 concurrent posts, 30 quorum rounds, 15 reminder rounds); `make race` runs the full 20.
RACE_REPEATS ?= 3
export RACE_REPEATS
# Sequences of the contract's model on dynoxide (tests/tests/model.rs): 8 in `make test`, these in `make race`.
MODEL_CASES_FULL ?= 100

.PHONY: run build test unit-test aws-test race fuzz infra-test lambda-test browser-test contract-test screenshots lint fmt clean

## Start the local server (in memory) on 127.0.0.1:$(PORT) and print a demo link.
run:
	$(CARGO) build -p human-intervention --bin human-intervention-local
	PORT=$(PORT) ./target/debug/human-intervention-local

build:
	$(CARGO) build --workspace --all-targets

## Everything CI runs.
test: unit-test aws-test lambda-test infra-test browser-test contract-test

## Unit, property and end-to-end tests of the workspace (the local server over HTTP, in memory).
unit-test:
	$(CARGO) test --workspace

## The AWS adapters through the real SDK, DynamoDB on dynoxide and SQS and the Scheduler on moto, each on
## a free loopback port; the golden fixtures (tests/golden: links, items, stream records and messages of
## earlier versions still work); AWS's rules held by the product (strict); AWS's errors on the wire (faults).
# --workspace with intervention-tests/aws rather than -p intervention-tests --features aws: the same packages
# as `make unit-test`, so the same features of every dependency and the shared crate, and only
# intervention-tests itself is compiled again (-p alone resolves other features: ~60 crates built twice).
AWS_TESTS := --workspace --features intervention-tests/aws
aws-test: $(VENV)/.moto $(DYNOXIDE_STAMP)
	LOG_LEVEL=error $(WITH_AWS) $(CARGO) test $(AWS_TESTS) --test aws --test round_trips --test golden --test strict --test faults --test tasks --test store_suite --test conditions --test model --test reach --test ses

## The 1,000-submission race, 20 rounds, and 200 rounds of a quorum's reviewers all voting at once, on dynoxide;
## then $(MODEL_CASES_FULL) random sequences of the contract's model there.
race: $(VENV)/.moto $(DYNOXIDE_STAMP)
	RACE_REPEATS=20 LOG_LEVEL=error $(WITH_AWS) $(CARGO) test $(AWS_TESTS) --test aws --test store_suite -- --nocapture a_thousand concurrent_last_votes
	MODEL_CASES=$(MODEL_CASES_FULL) LOG_LEVEL=error $(WITH_AWS) $(CARGO) test $(AWS_TESTS) --test model -- --nocapture

## The real Lambda binaries under `cargo lambda watch`, against moto; with Step Functions executions of the
## example state machines on moto's interpreter, whose Lambda tasks reach the functions under watch through
## moto's server (tests/moto/serve.py's bridge), SendTaskSuccess counted on the wire (tests/lambda/sfn.py); and
## the durable example's executions in the durable execution emulator (tests/durable/serve.py, no Docker), answered
## by the publisher and cancel under watch, the callback calls counted on the wire (tests/lambda/durable.py).
lambda-test: $(VENV)/.moto $(VENV)/.durable
	tests/moto/with-moto.sh bash tests/lambda/flow.sh

## The SAM template: cfn-lint, SAM translation, and least-privilege IAM checks.
infra-test:
	bash infra/check.sh

## schemathesis against the local server from docs/openapi.json: no server errors; statuses, content types
## and bodies as documented (tests/contract/run.sh).
contract-test: $(VENV)/.schemathesis
	$(CARGO) build -p human-intervention --bin human-intervention-local
	bash tests/contract/run.sh

## The reviewer's page in Debian's Chromium (headless, playwright-core).
browser-test:
	bash tests/browser/run.sh test

## PNGs of every page (desktop and phone) in target/screenshots/.
screenshots:
	bash tests/browser/run.sh screenshots

## Fuzz each field kind's value parser, the token parser and the form-body parser for FUZZ_SECONDS each
## (not part of make test; `make unit-test` replays every corpus in shared/fuzz/corpus as a plain test).
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := $(foreach kind,text integer decimal boolean choice date datetime email url,field_$(kind)) token form_body
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd shared/fuzz && for target in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=512 || exit 1; \
	done

$(VENV)/.moto:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'moto[server]==$(MOTO_VERSION)' 'rfc8785==$(RFC8785_VERSION)'
	touch $@

$(VENV)/.durable:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'aws-durable-execution-sdk-python==$(DURABLE_SDK_VERSION)' \
	  'aws-durable-execution-sdk-python-testing==$(DURABLE_TESTING_VERSION)'
	touch $@

# --locked: dynoxide's own lock file; only the HTTP server and its CLI (no MCP server, no import).
$(DYNOXIDE_STAMP):
	$(CARGO) install dynoxide-rs --version $(DYNOXIDE_VERSION) --locked --no-default-features \
	  --features native-sqlite,http-server,cli --root $(DYNOXIDE_ROOT)
	touch $@

$(VENV)/.schemathesis:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'schemathesis==$(SCHEMATHESIS_VERSION)'
	touch $@

# The last line lints the shared crate alone: features other members turn on (its `aws` adapters,
# tracing-subscriber's env-filter) must not hide what it needs itself.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p intervention-tests --features aws --all-targets -- -D warnings
	$(CARGO) clippy -p human-intervention --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(VENV) tests/browser/node_modules

## ---- Lambda packages and performance budgets

# The functions cargo lambda packages (every crate in functions/; arm64, for provided.al2023), and its tools (PyPI).
LAMBDA_FUNCTIONS ?= $(sort $(notdir $(wildcard functions/*)))
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.17.1
LAMBDA_PATH := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
# The baselines of `make bench` (benches/hello-lambda and the functions' own floors benches/floors, outside the
# workspace) build here.
BASELINE_TARGET := $(CURDIR)/target/baseline
# `make bench` measures x86_64 builds made as the packages are (non-PIE: .cargo/config.toml says why); the
# explicit --target keeps the flag off build scripts and proc-macros. Through gcc the flag goes to the linker
# itself (-Wl,): the driver's -no-pie would link crc-fast's cdylib as an executable; zig takes -no-pie.
BENCH_TRIPLE := x86_64-unknown-linux-gnu
BENCH_BUILD := CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-Wl,--no-pie" $(CARGO) build --release --target $(BENCH_TRIPLE)

.PHONY: package bench

## The arm64 zips target/lambda/<function>/bootstrap.zip (release profile of Cargo.toml), with their sizes.
package: $(VENV)/.cargo-lambda
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(LAMBDA_PATH) $(CARGO) lambda build --release --arm64 --output-format zip $(addprefix -p ,$(LAMBDA_FUNCTIONS))
	@for f in $(LAMBDA_FUNCTIONS); do \
	  printf '%-12s %10s bytes  target/lambda/%s/bootstrap.zip\n' $$f "$$(stat -c %s target/lambda/$$f/bootstrap.zip)" $$f; \
	done

## Every performance budget beside a baseline measured in the same run, as one table on stdout
## (benches/run.py: handler costs, init time, AWS round trips, package size, memory, throughput).
bench: package $(VENV)/.moto
	$(PYTHON) benches/run.py check-profile
	$(BENCH_BUILD) $(addprefix -p ,$(LAMBDA_FUNCTIONS)) -p human-intervention --bins
	CARGO_TARGET_DIR=$(BASELINE_TARGET) $(BENCH_BUILD) --manifest-path benches/hello-lambda/Cargo.toml
	cd benches/hello-lambda && CARGO_TARGET_DIR=$(BASELINE_TARGET) $(LAMBDA_PATH) \
	  $(CARGO) lambda build --release --arm64 --output-format zip --bin hello-lambda --bin hello-dynamodb
	CARGO_TARGET_DIR=$(BASELINE_TARGET) $(BENCH_BUILD) --manifest-path benches/floors/Cargo.toml
	cd benches/floors && CARGO_TARGET_DIR=$(BASELINE_TARGET) $(LAMBDA_PATH) \
	  $(CARGO) lambda build --release --arm64 --output-format zip
	$(CARGO) bench -p human-intervention --bench handlers --bench submit_latency --bench instructions --no-run
	$(CARGO) test -p intervention-tests --features aws --test round_trips --no-run
	command -v wrk >/dev/null || apt-get install -y wrk
	command -v valgrind >/dev/null || apt-get install -y valgrind
	tests/moto/with-moto.sh $(VENV)/bin/python benches/run.py

$(VENV)/.cargo-lambda:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIGLANG_VERSION)'
	touch $@

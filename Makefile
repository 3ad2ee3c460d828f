# The front door: `make run` starts the product on its embedded default, `make test` installs what the
# tests need and runs them all. Nothing is expected to be running or installed beforehand.
SHELL := /bin/bash
PORT ?= 3000
CARGO ?= cargo
VENV := .venv
PYTHON ?= python3
MOTO_VERSION := 5.2.5
# Rounds of the 1,000-submission race against moto in `make test` (about 20 s a round on 2 cores);
# `make race` runs the full 20.
RACE_REPEATS ?= 5
export RACE_REPEATS

.PHONY: run build test unit-test aws-test race fuzz infra-test lambda-test browser-test screenshots lint fmt clean

## Start the local server (in memory) on 127.0.0.1:$(PORT) and print a demo link.
run:
	$(CARGO) build -p human-intervention --bin human-intervention-local
	PORT=$(PORT) ./target/debug/human-intervention-local

build:
	$(CARGO) build --workspace --all-targets

## Everything CI runs.
test: unit-test aws-test lambda-test infra-test browser-test

## Unit, property and end-to-end tests of the workspace (the local server over HTTP, in memory).
unit-test:
	$(CARGO) test --workspace

## The AWS adapters through the real SDK against moto's server on a free loopback port.
aws-test: $(VENV)/.moto
	tests/moto/with-moto.sh $(CARGO) test -p intervention-tests --features aws --test aws

## The 1,000-submission race, 20 rounds.
race: $(VENV)/.moto
	RACE_REPEATS=20 tests/moto/with-moto.sh $(CARGO) test -p intervention-tests --features aws --test aws a_thousand -- --nocapture

## The real Lambda binaries under `cargo lambda watch`, against moto.
lambda-test: $(VENV)/.moto
	tests/moto/with-moto.sh bash tests/lambda/flow.sh

## The SAM template: cfn-lint, SAM translation, and least-privilege IAM checks.
infra-test:
	bash infra/check.sh

## The reviewer's page in Debian's Chromium (headless, playwright-core).
browser-test:
	bash tests/browser/run.sh test

## PNGs of every page (desktop and phone) in target/screenshots/.
screenshots:
	bash tests/browser/run.sh screenshots

## Fuzz the token parser and the form-body parser for FUZZ_SECONDS each (not part of make test).
FUZZ_SECONDS ?= 300
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd shared/fuzz && for target in token form_body; do \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=512 || exit 1; \
	done

$(VENV)/.moto:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'moto[server]==$(MOTO_VERSION)'
	touch $@

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p intervention-tests --features aws --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(VENV) tests/browser/node_modules

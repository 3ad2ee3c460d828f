# The front door: `make run` starts the product on its embedded default, `make test` installs what the
# tests need and runs them all. Nothing is expected to be running or installed beforehand.
SHELL := /bin/bash
PORT ?= 3000
CARGO ?= cargo

.PHONY: run build test unit-test lint fmt clean

## Start the local server (in memory) on 127.0.0.1:$(PORT) and print a demo link.
run:
	$(CARGO) build -p human-intervention --bin human-intervention-local
	PORT=$(PORT) ./target/debug/human-intervention-local

build:
	$(CARGO) build --workspace --all-targets

## Everything CI runs.
test: unit-test

## Unit, property and end-to-end tests of the workspace (the local server over HTTP).
unit-test:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

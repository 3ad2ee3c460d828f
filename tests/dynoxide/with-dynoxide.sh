#!/usr/bin/env bash
# Runs a command with dynoxide (a DynamoDB emulator on SQLite) on a free loopback port, and points the
# tests' DynamoDB client at it with AWS_ENDPOINT_URL_DYNAMODB; the server is stopped however the command
# ends, and the command's exit status is kept.
#
# Why a second DynamoDB beside moto: moto's DynamoDB is not atomic under concurrency (tests/moto/serve.py
# serialises every request to make it so) and ignores ClientRequestToken. dynoxide runs each operation,
# TransactWriteItems included, under one lock on its database while it serves requests concurrently, and
# honours ClientRequestToken (a replay within 10 minutes is answered without writing; the same token with
# other parameters is IdempotentParameterMismatchException), as DynamoDB does. Because it serialises, it
# never cancels a transaction with a TransactionConflict reason as DynamoDB may under contention: that
# path is the fault proxy's (tests/src/faults.rs). It is in memory: one database per server (one SQLite
# connection, so a file would be no more concurrent), gone when it stops.
#
# DYNOXIDE: the binary (the Makefile installs it, pinned, under ~/.cache/human-intervention/).
set -euo pipefail
dynoxide=${DYNOXIDE:-$HOME/.cache/human-intervention/dynoxide-3.2.0/bin/dynoxide}
if [ ! -x "$dynoxide" ]; then
  echo "dynoxide is not installed at $dynoxide: run the tests with make, which installs it" >&2
  exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$dynoxide" serve --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
server=$!
# Keep the command's exit status: the trap's own last status would otherwise replace it.
trap 'rc=$?; kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -f "$log"; exit $rc' EXIT
for _ in $(seq 1 100); do
  # GET / is dynoxide's health check.
  if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then break; fi
  if ! kill -0 $server 2>/dev/null; then echo "dynoxide did not start:"; cat "$log"; exit 1; fi
  sleep 0.1
done
if ! curl -sf -o /dev/null "http://127.0.0.1:$port/"; then echo "dynoxide did not answer:"; cat "$log"; exit 1; fi
echo "dynoxide on http://127.0.0.1:$port"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
"$@"

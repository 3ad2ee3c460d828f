#!/usr/bin/env bash
# `make contract-test`: schemathesis against the local server, from docs/openapi.json.
#
# Starts target/debug/human-intervention-local (built by the Makefile) on a free loopback port, seeds it
# (tests/contract/seed.py), runs schemathesis with a bounded number of examples per operation and these
# checks: no server errors, status codes, content types and response bodies conform to the document.
# The server is stopped however the run ends. CONTRACT_EXAMPLES (default 50) and CONTRACT_SEED tune it.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=target/debug/human-intervention-local
ST=.venv/bin/st
WORK=target/contract
EXAMPLES=${CONTRACT_EXAMPLES:-50}
SEED=${CONTRACT_SEED:-20261125}
[ -x "$BIN" ] || { echo "contract-test: $BIN is missing (make contract-test builds it)" >&2; exit 1; }
[ -x "$ST" ] || { echo "contract-test: $ST is missing (make contract-test installs it)" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$PORT LOG_LEVEL=warn "$BIN" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
stop() { kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true; }
trap stop EXIT INT TERM

for _ in $(seq 100); do
  grep -q '^Demo link: ' "$WORK/server.out" && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.err" >&2; echo "contract-test: the server did not start" >&2; exit 1; }
  sleep 0.1
done
DEMO=$(sed -n 's/^Demo link: //p' "$WORK/server.out")
[ -n "$DEMO" ] || { echo "contract-test: no demo link after 10 s" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
python3 tests/contract/seed.py "$URL" "$WORK" "$DEMO"

started=$SECONDS
set +e
"$ST" --config-file tests/contract/schemathesis.toml run docs/openapi.json --url "$URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 10 \
  --no-color --report har --report-har-path "$WORK/requests.har" >"$WORK/schemathesis.txt" 2>&1
status=$?
set -e
elapsed=$((SECONDS - started))
if [ "$status" -ne 0 ]; then
  cat "$WORK/schemathesis.txt"
fi
# schemathesis's summary line (e.g. `===== 9 passed in 41.20s =====`), and how long the run took here.
summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$WORK/schemathesis.txt" | tail -1 || true)
echo "schemathesis: ${summary:-no summary line (see $WORK/schemathesis.txt)} (${elapsed} s, $EXAMPLES examples per operation, seed $SEED)"
if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "contract-test: the server died during the run" >&2
  cat "$WORK/server.err" >&2
  exit 1
fi
exit "$status"

#!/usr/bin/env bash
# Runs a command with moto's server on a free loopback port: AWS_ENDPOINT_URL and dummy credentials point
# the real SDK clients at it, and the server is stopped however the command ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${VENV:-$here/../../.venv}
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
# MOTO_PORT: where moto's Step Functions interpreter sends its service integrations' calls (its boto3
# clients use http://localhost:$MOTO_PORT), i.e. back to this server.
MOTO_PORT=$port "$venv/bin/python" "$here/serve.py" 127.0.0.1 "$port" >"$log" 2>&1 &
moto=$!
# Keep the command's exit status: the trap's own last status would otherwise replace it.
trap 'rc=$?; kill $moto 2>/dev/null; wait $moto 2>/dev/null || true; rm -f "$log"; exit $rc' EXIT
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; then break; fi
  if ! kill -0 $moto 2>/dev/null; then echo "moto did not start:"; cat "$log"; exit 1; fi
  sleep 0.1
done
echo "moto on http://127.0.0.1:$port"
# moto speaks plain HTTP: whatever CA bundle the host names is not the tests' business.
unset AWS_CA_BUNDLE
# VENV_PYTHON: the virtualenv's interpreter (moto's dependencies, cryptography among them) for test helpers.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 VENV_PYTHON="$venv/bin/python"
"$@"

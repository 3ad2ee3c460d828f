#!/usr/bin/env bash
# One full create -> view -> submit -> publish flow, a timeout and a few refusals through the REAL Lambda
# binaries under `cargo lambda watch`, against moto, at LOG_LEVEL=trace (the template's most verbose level);
# then what the functions printed is checked: each step's EMF metrics with their dimensions, and no token,
# secret context value or reviewer input in any line:
#
#   tests/moto/with-moto.sh bash tests/lambda/flow.sh      (or `make lambda-test`)
#
# Run without AWS_ENDPOINT_URL (e.g. `bash tests/lambda/flow.sh` on a fresh machine), it prepares the
# virtualenv and re-runs itself under tests/moto/with-moto.sh.
#
# It creates a table (DynamoStore::create_table's layout) and a standard queue on moto, a fresh signing key,
# starts `cargo lambda watch` on a free loopback port with the functions' configuration, and runs the steps
# in flow.py, one PASS/FAIL line each (watch.log, which holds the functions' stdout and stderr, is what the
# last checks read). The S steps (tests/lambda/sfn.py) run executions on moto's Step Functions interpreter
# (with-moto.sh starts moto with MOTO_PORT; flow.py setup turns the interpreter on), whose Lambda tasks reach
# the functions under watch through moto's server (tests/moto/serve.py's bridge, set below). The D steps
# (tests/lambda/durable.py) run Lambda durable executions in the durable execution emulator (tests/durable/serve.py,
# started below before watch, whose functions answer its callbacks through AWS_ENDPOINT_URL_LAMBDA). It exits
# non-zero on any failure, and always stops watch, the emulator and every function process it started.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
venv=${VENV:-$root/.venv}
started=$(date +%s)

# --- tools: the virtualenv with moto (and boto3), cargo-lambda and zig, all from PyPI
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import moto, boto3, flask, rfc8785' 2>/dev/null; then
  "$venv/bin/pip" install --quiet 'moto[server]==5.2.5' 'rfc8785==0.1.4'
fi
# Lambda durable functions: the SDK and its local emulator (tests/durable/serve.py), the D steps' waiting run.
if ! "$venv/bin/python" -c 'import aws_durable_execution_sdk_python, aws_durable_execution_sdk_python_testing' 2>/dev/null; then
  "$venv/bin/pip" install --quiet 'aws-durable-execution-sdk-python==3.0.0' 'aws-durable-execution-sdk-python-testing==1.4.0'
fi
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  "$venv/bin/pip" install --quiet 'cargo-lambda==1.9.2' 'ziglang==0.17.1'
fi
export PATH="$venv/bin:$PATH"
if ! version=$(cargo lambda --version 2>&1); then
  echo "FAIL [0] cargo lambda --version: $version"
  exit 1
fi
echo "$version"

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  # with-moto.sh's own exit status is not this script's (its EXIT trap ends with `wait` on the stopped
  # moto), so the status comes back through a file.
  rc_file=$(mktemp)
  FLOW_RC_FILE=$rc_file "$root/tests/moto/with-moto.sh" bash "$0" "$@" || true
  rc=$(cat "$rc_file")
  rm -f "$rc_file"
  exit "${rc:-1}"
fi

work=$(mktemp -d)
chmod 700 "$work"
watch_pid=
durable_pid=
child=

# Every process below watch (the function instances run in sessions of their own, so a process-group
# signal alone would not reach them).
descendants() {
  local pid=$1 child
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

alive() {
  local pid
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
  done
}

stop() { # stop PID...: TERM, then KILL what is still running after 10 s
  local left
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 100); do
    left=$(alive "$@")
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  kill -KILL $left 2>/dev/null || true
}

cleanup() {
  local rc=$? pids left
  trap - EXIT INT TERM
  if [ -n "$child" ]; then # the step interrupted by a signal, and what it started
    stop "$child" $(descendants "$child")
    wait "$child" 2>/dev/null || true
  fi
  if [ -z "$watch_pid" ] && [ -s "$work/watch.pid" ]; then watch_pid=$(cat "$work/watch.pid"); fi
  if [ -n "$watch_pid" ]; then
    pids=$(descendants "$watch_pid" | tr '\n' ' ')
    # watch stops its function instances on SIGTERM; its own process group holds it alone.
    kill -TERM -- "-$watch_pid" 2>/dev/null || kill -TERM "$watch_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      left=$(alive "$watch_pid" $pids)
      [ -z "$left" ] && break
      sleep 0.1
    done
    left=$(alive "$watch_pid" $pids)
    if [ -n "$left" ]; then
      echo "cleanup: killing what watch left running: $left"
      for pid in $left; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
      sleep 0.5
    fi
    wait "$watch_pid" 2>/dev/null || true
    left=$(alive "$watch_pid" $pids)
    if [ -n "$left" ]; then
      echo "FAIL cleanup: still running: $left"
      rc=1
    else
      echo "cleanup: cargo lambda watch (pid $watch_pid) and its $(echo $pids | wc -w) processes stopped"
    fi
    if [ "$rc" -ne 0 ] && [ -f "$work/watch.log" ]; then
      echo "--- last lines of the cargo lambda watch log"
      tail -n 40 "$work/watch.log"
    fi
  fi
  if [ -n "$durable_pid" ]; then
    stop "$durable_pid"
    wait "$durable_pid" 2>/dev/null || true
    if [ "$rc" -ne 0 ] && [ -f "$work/durable.log" ]; then
      echo "--- last lines of the durable execution emulator's log"
      tail -n 20 "$work/durable.log"
    fi
  fi
  rm -rf "$work"
  echo "flow.sh: exit $rc, total $(($(date +%s) - started))s"
  if [ -n "${FLOW_RC_FILE:-}" ]; then echo "$rc" >"$FLOW_RC_FILE"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it: bash defers a trap until a foreground command ends,
# but `wait` returns at once on a signal, so an interrupted run still cleans up promptly.
run() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=
  return "$rc"
}

step() { # step NAME CMD... : one PASS/FAIL line for a preparation step
  local name=$1 t0=$(date +%s)
  shift
  if run "$@" >"$work/step.log" 2>&1; then
    echo "PASS [0] $name ($(($(date +%s) - t0))s)"
  else
    echo "FAIL [0] $name ($(($(date +%s) - t0))s):"
    tail -n 40 "$work/step.log"
    exit 1
  fi
}

# --- moto: table, queue, signing key
step "moto table + queue + signing key" "$venv/bin/python" "$here/flow.py" setup "$work"
sed 's/^/  /' "$work/step.log"

# --- the durable execution emulator (tests/durable/serve.py: one process for all D steps) on a free port, before
# watch: the functions' Lambda client answers callbacks there (AWS_ENDPOINT_URL_LAMBDA), while the durable
# functions it runs invoke create-link through moto's bridge (AWS_ENDPOINT_URL).
t0=$(date +%s)
"$venv/bin/python" "$root/tests/durable/serve.py" 0 >"$work/durable.url" 2>"$work/durable.log" &
durable_pid=$!
durable_url=
for _ in $(seq 1 100); do
  durable_url=$(head -n 1 "$work/durable.url" 2>/dev/null || true)
  [ -n "$durable_url" ] && break
  kill -0 "$durable_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$durable_url" ]; then
  echo "FAIL [0] the durable execution emulator did not start:"
  tail -n 20 "$work/durable.log"
  exit 1
fi
export DURABLE_ENDPOINT=$durable_url
echo "PASS [0] durable execution emulator on $durable_url ($(($(date +%s) - t0))s)"

# --- the seven binaries, built up front in one build so that a compile error shows here and watch only
# starts them. Watch starts a function as `cargo run --bin <name>` at the workspace root, without -p: cargo
# then resolves features over every member of the workspace, whichever function it is. `cargo build --bin a
# --bin b ...` at the root resolves them the same way, so it builds exactly the artifacts watch runs (checked
# after the flow: watch.log has no `Compiling`). `cargo build -p <name>` would not: each function's own
# features, artifacts watch does not use, and watch compiling the dependencies again on the first invocation.
bins=()
for function in create-link form-page submission publisher records timeout cancel; do
  bins+=(--bin "$function")
done
step "cargo build ${bins[*]}" cargo build "${bins[@]}"

# --- cargo lambda watch on a free port, the functions' configuration in an env file (values quoted:
# cargo-lambda's env-file parser refuses an unquoted base64 value with `+`, `/` or `=`)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
link_base="http://127.0.0.1:$port/lambda-url/form-page"
{
  cat "$work/aws.env"
  echo "LINK_BASE_URL=$link_base"
  echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
  echo "AWS_ENDPOINT_URL_LAMBDA=$durable_url"
  echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
  echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
  echo "AWS_REGION=$AWS_REGION"
} | sed 's/^\([A-Z_]*\)=\(.*\)$/\1="\2"/' >"$work/lambda.env"
chmod 600 "$work/lambda.env"

# Its own session and process group; --ignore-changes: edits made meanwhile never restart a function
# mid-flow (each function is still `cargo run` when first invoked).
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$work/watch.pid" \
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-file "$work/lambda.env" --ignore-changes </dev/null >"$work/watch.log" 2>&1 &
for _ in $(seq 1 50); do [ -s "$work/watch.pid" ] && break; sleep 0.1; done
watch_pid=$(cat "$work/watch.pid")

t0=$(date +%s)
ready=
for _ in $(seq 1 300); do
  if ! kill -0 "$watch_pid" 2>/dev/null; then break; fi
  # a plain TCP connect: an HTTP probe would hit watch's disabled default function and log an error
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "FAIL [0] cargo lambda watch on 127.0.0.1:$port did not become ready"
  exit 1
fi
echo "PASS [0] cargo lambda watch ready on 127.0.0.1:$port ($(($(date +%s) - t0))s); LINK_BASE_URL=$link_base"

# --- the Lambda bridge: moto's Lambda Invoke API (which its Step Functions interpreter calls) answers with
# the functions under watch (tests/moto/serve.py); set now that watch's port is known.
if ! bridge=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$port\"}" \
  "$AWS_ENDPOINT_URL/__bridge"); then
  echo "FAIL [0] the Lambda bridge: moto's server at $AWS_ENDPOINT_URL has no /__bridge (tests/moto/serve.py)"
  exit 1
fi
echo "PASS [0] Lambda bridge: Invoke on moto → $bridge"

# --- the flow
t0=$(date +%s)
export FLOW_WATCH_PID=$watch_pid # flow.py checks its function processes' environment
if run "$venv/bin/python" "$here/flow.py" steps "$work" "$port"; then
  echo "PASS flow: create -> view -> submit -> publish, timeout, refusals, Step Functions on moto's interpreter; metrics and trace logs checked ($(($(date +%s) - t0))s)"
else
  echo "FAIL flow ($(($(date +%s) - t0))s)"
  exit 1
fi

# --- built once: watch ran what the build above produced, compiling nothing on a first invocation
# (cargo's line, colours or not: `   Compiling <crate> v<version>`)
if compiled=$(grep -E 'Compiling [[:alnum:]_-]+ v[0-9]' "$work/watch.log"); then
  echo "FAIL [0] cargo lambda watch compiled on a first invocation (the build above no longer resolves features as"
  echo "  watch's \`cargo run --bin <name>\` does, and each function was built twice):"
  echo "$compiled" | head -n 20 | sed 's/^/  /'
  exit 1
fi
echo "PASS [0] built once: cargo lambda watch compiled nothing, it ran the binaries built above"

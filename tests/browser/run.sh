#!/usr/bin/env bash
# Browser tests of the reviewer's pages: headless Debian Chromium (driven by playwright-core) against the
# local server (the embedded default, on a free loopback port).
#
#   bash tests/browser/run.sh [test|screenshots]
#
#   test         run browser.test.mjs and email.test.mjs (node's test runner, TAP output; the email's
#                screenshots land in target/screenshots/); exit non-zero if any test fails
#   screenshots  write PNGs of every page into target/screenshots/
#
# Installs what it needs (apt chromium, npm playwright-core) when missing. Never downloads a browser
# through Playwright. The server it starts is always stopped on exit.
#
# Environment:
#   CHROMIUM            browser executable (default /usr/bin/chromium)
#   HI_LOCAL_BIN        use this server binary instead of building one (e.g. a prebuilt snapshot)
#   CARGO               cargo command (default cargo)
set -euo pipefail

mode="${1:-test}"
case "$mode" in
  test | screenshots) ;;
  *)
    echo "usage: bash tests/browser/run.sh [test|screenshots]" >&2
    exit 2
    ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

log() { printf '[browser] %s\n' "$*" >&2; }

# 1. Chromium from Debian.
if [[ ! -x "$CHROMIUM" ]]; then
  log "installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt_log="$(mktemp)"
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    rm -f "$apt_log"
    log "could not install chromium"
    exit 1
  fi
  rm -f "$apt_log"
  if [[ ! -x "$CHROMIUM" ]]; then
    log "chromium was installed but $CHROMIUM is still missing (check CHROMIUM)"
    exit 1
  fi
fi

# 2. playwright-core and axe-core (the accessibility checks).
if [[ ! -d "$here/node_modules/playwright-core" || ! -d "$here/node_modules/axe-core" ]]; then
  log "installing npm dependencies"
  if [[ -f "$here/package-lock.json" ]]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
  fi
fi

# 3. The local server.
if [[ -n "${HI_LOCAL_BIN:-}" ]]; then
  server_bin="$HI_LOCAL_BIN"
else
  log "building the local server"
  (cd "$root" && "${CARGO:-cargo}" build --quiet -p human-intervention --bin human-intervention-local)
  server_bin="$root/target/debug/human-intervention-local"
fi

work="$(mktemp -d)"
server_log="$work/server.log"
server_pid=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s "$server_log" ]]; then
    log "server log (last 40 lines):"
    tail -n 40 "$server_log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh link key for this run, known to the tests: they sign one-click links (an option of the form's
# one-click field under the MAC) as a message would carry them, with an implementation of their own.
link_key="browser:$(head -c 32 /dev/urandom | base64 -w0)"
export HI_LINK_SIGNING_KEY="$link_key"

# The HTML part of a sample email to a reviewer, for email.test.mjs (the same features as the server: only
# the example is linked).
export HI_EMAIL_HTML="$work/email.html"
(cd "$root" && "${CARGO:-cargo}" run --quiet -p human-intervention --example email_html -- "$HI_EMAIL_HTML")

# PORT=0: the server binds any free loopback port itself (no race) and prints its links with that port.
env -u LINK_BASE_URL LINK_SIGNING_KEYS="$link_key" PORT=0 "$server_bin" >"$server_log" 2>&1 &
server_pid=$!

demo_link=""
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "the local server exited before it was ready"
    exit 1
  fi
  demo_link="$(sed -n 's/^Demo link: \(http[^ ]*\).*$/\1/p' "$server_log" | head -n 1)"
  [[ -n "$demo_link" ]] && break
  sleep 0.1
done
if [[ -z "$demo_link" ]]; then
  log "the local server did not print 'Demo link:' within 30 s"
  exit 1
fi
base_url="${demo_link%%/i/*}"
case "$base_url" in
  http://127.0.0.1:* | http://localhost:* | "http://[::1]:"*) ;;
  *)
    log "unexpected base URL '$base_url' (loopback expected)"
    exit 1
    ;;
esac
export HI_BASE_URL="$base_url"
export HI_DEMO_LINK="$demo_link"
log "local server at $HI_BASE_URL (pid $server_pid)"

cd "$here"
case "$mode" in
  test)
    # No `exec`: the trap must still stop the server afterwards.
    export HI_SCREENSHOT_DIR="$root/target/screenshots"
    node --test --test-reporter=tap --test-timeout=60000 browser.test.mjs email.test.mjs
    ;;
  screenshots)
    export HI_SCREENSHOT_DIR="$root/target/screenshots"
    node screenshots.mjs
    ;;
esac

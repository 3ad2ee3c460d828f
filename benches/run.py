#!/usr/bin/env python3
"""`make bench`: every performance budget of the product, each figure beside a baseline measured in the
same run on the same machine, with the ratio. The table goes to stdout (and target/bench/table.txt);
progress and logs go to stderr and target/bench/.

Run by `make bench`, which builds everything first (release profile; the baselines in
benches/hello-lambda with the same profile) and starts moto (tests/moto/with-moto.sh sets
AWS_ENDPOINT_URL). Nothing it starts outlives it: every child is stopped in `finally` blocks and on
SIGINT/SIGTERM.

  a. handler cost on the in-memory adapters: criterion (shared/benches/handlers.rs) and 10,000
     individually timed submissions (shared/benches/submit_latency.rs) for p50/p99;
  b. init time: each function binary against a Lambda Runtime API emulator (this file), spawn to the
     first `GET /runtime/invocation/next`, median of INIT_RUNS round-robin runs, beside the hello-world
     function and the function's own SDK floor (benches/floors) (x86_64, non-PIE as the packages are);
  c. round trips: tests/tests/round_trips.rs against moto (AWS calls per operation, counted by an SDK
     interceptor), beside the design's budget;
  d. package size: the arm64 zips of `make package`, beside the SDK floor (hello-dynamodb: hello-world and
     one GetItem) and the function's own SDK floor (its AWS clients, one call each: benches/floors);
  e. memory: peak RSS (VmHWM) of each function after a burst of BURST events through the emulator,
     beside the hello-world function under the same burst;
  f. throughput: the local server under wrk (server pinned to core 0, wrk to core 1), beside a static
     server on the same HTTP stack answering with the same page bytes;
  g. instructions per request on the hot paths under callgrind (shared/benches/instructions.rs), beside
     the committed baseline benches/instructions.json (BENCH_INSTRUCTIONS_BASELINE=write records a new one).
"""

import base64
import collections
import copy
import datetime
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target")
# x86_64 builds made as the arm64 packages are (non-PIE; the Makefile's BENCH_BUILD).
RELEASE = os.path.join(TARGET, "x86_64-unknown-linux-gnu", "release")
BASELINE = os.path.join(TARGET, "baseline", "x86_64-unknown-linux-gnu", "release")
OUT = os.path.join(TARGET, "bench")
# Every Lambda function (a crate in functions/), as `make package` builds them.
FUNCTIONS = sorted(os.listdir(os.path.join(ROOT, "functions")))
HELLO = os.path.join(BASELINE, "hello-lambda")
STATIC = os.path.join(BASELINE, "static-page")
LOCAL = os.path.join(RELEASE, "human-intervention-local")

INIT_RUNS = int(os.environ.get("BENCH_INIT_RUNS", "40"))
BURST = int(os.environ.get("BENCH_BURST", "1000"))
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
WRK_CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "16"))
REGION = "eu-west-1"
LINK_BASE = "https://links.example.com"

# Budgets (the issue's).
SUBMIT_P99_BUDGET_NS = 100_000
VIEWS_RATIO_BUDGET = 0.6  # of the static server's views/s, same harness
SUBMISSIONS_RATIO_BUDGET = 0.4
# Issue 24: init ≤ 1.2× the hello-world function's, zip ≤ 1.15× the SDK floor's (hello-dynamodb).
INIT_RATIO_BUDGET = 1.2
ZIP_FLOOR_RATIO_BUDGET = 1.15
# Each function's own SDK floor (benches/floors/src/bin/floor-<function>.rs: hello-world plus one call on
# each AWS client the function calls, on the product's trust store).
# hello-dynamodb, the SDK floor, trusts the system's roots: its init is not a floor for the functions'.
FLOORS = {name: f"floor-{name}" for name in FUNCTIONS}
FLOOR_SERVICES = {
    "cancel": "DynamoDB, Scheduler, SFN, Lambda",
    "create-link": "DynamoDB, Scheduler, SSM, SFN, Lambda, KMS",
    "form-page": "DynamoDB, KMS, SSM",
    "log-export": "DynamoDB, S3, KMS",
    "publisher": "DynamoDB, SQS, SFN, Lambda, KMS, SES, SSM",
    "records": "DynamoDB, Scheduler, SSM, SFN, Lambda",
    "submission": "DynamoDB, Scheduler, SSM",
    "timeout": "DynamoDB",
}
# BENCH_BEFORE=<dir>: an earlier build to set beside this one, <dir>/x86/<function> (its init measured in the
# same round robin) and <dir>/zip/<function>.zip.
BEFORE = os.environ.get("BENCH_BEFORE")
RSS_BUDGET_KB = 24 * 1024

children = []  # every process started here, stopped on the way out


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stop(process, timeout=5):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start(cmd, **kwargs):
    process = subprocess.Popen(cmd, **kwargs)
    children.append(process)
    return process


def stop_all(*_):
    for process in children:
        try:
            stop(process, 2)
        except Exception:
            pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ Lambda Runtime API


class QuickHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive without Nagle's algorithm: http.server writes a response's head and body
    separately, and with Nagle the body waits for the client's delayed ACK (40 ms) on every request."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_):
        pass


class RuntimeApi:
    """A minimal Lambda Runtime API on loopback: hands out queued events on `GET .../invocation/next`
    (holding the request while none is queued), takes `POST .../response` and `.../error`, and records
    when the first `next` arrived (perf_counter)."""

    def __init__(self, events=()):
        self.events = collections.deque(events)
        self.cv = threading.Condition()
        self.first_next = None
        self.polls = 0
        self.responses = []
        self.errors = []
        self.closed = False
        self.sequence = 0
        api = self

        class Handler(QuickHandler):

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                event = api.next_event()
                if event is None:
                    self.close_connection = True
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request_id, body = event
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:eu-west-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with api.cv:
                    if self.path.endswith("/response"):
                        api.responses.append(body)
                    else:
                        api.errors.append(body)
                    api.cv.notify_all()
                payload = b'{"status":"OK"}'
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        # Its own loop rather than serve_forever: socketserver's shutdown() once waited forever in part b (its
        # serve_forever thread still polling), hanging `make bench`; this loop ends within one timeout.
        self.server.timeout = 0.05
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            self.server.handle_request()

    def next_event(self):
        with self.cv:
            if self.first_next is None:
                self.first_next = time.perf_counter()
            self.polls += 1
            self.cv.notify_all()
            while not self.events and not self.closed:
                self.cv.wait()
            if self.closed:
                return None
            self.sequence += 1
            return f"bench-{self.sequence}", self.events.popleft()

    def wait_for(self, condition, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(min(left, 0.05))
        return True

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        self.stopping.set()
        self.thread.join(5)
        self.server.server_close()


class StubDynamo:
    """A DynamoDB (and EventBridge Scheduler) endpoint on loopback that answers `GetItem` with one stored
    item and `TransactWriteItems` (and `DeleteSchedule`) with success: the submission function's whole
    client-side work (serialising, signing, HTTP, parsing) at a thousand calls without moto, whose
    `TransactWriteItems` deep-copies the table for every item of every transaction."""

    def __init__(self, item):
        self.calls = collections.Counter()
        stub = self

        class Handler(QuickHandler):

            def answer(self, body):
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-RequestId", secrets.token_hex(8))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                stub.calls[target] += 1
                self.answer({"Item": item} if target == "GetItem" else {})

            def do_DELETE(self):
                stub.calls["DeleteSchedule"] += 1
                self.answer({})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lambda_env(name, api, extra):
    home = os.path.join(OUT, "home")
    os.makedirs(home, exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,  # no ~/.aws here, as on Lambda
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": os.path.dirname(HELLO),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    env.update(extra)
    return env


def run_function(binary, name, extra_env, events, timeout, logs=None):
    """Starts `binary` against a fresh emulator with `events` queued; returns once it has answered them
    all and polled for the next one (or on timeout): (runtime api, process, seconds, VmHWM kB). With
    `logs`, its stdout (EMF) and stderr (JSON lines) go to `logs`.stdout and `logs`.stderr."""
    api = RuntimeApi(events)
    count = len(api.events)
    t0 = time.perf_counter()
    out = open(f"{logs}.stdout", "wb") if logs else subprocess.DEVNULL
    err = open(f"{logs}.stderr", "wb") if logs else subprocess.DEVNULL
    process = start([binary], env=lambda_env(name, api, extra_env), stdout=out, stderr=err)
    if logs:
        out.close()
        err.close()
    try:
        done = api.wait_for(lambda: (api.first_next is not None and len(api.responses) + len(api.errors) >= count
                                     and api.polls > count) or process.poll() is not None, timeout)
        elapsed = time.perf_counter() - t0
        hwm = vm_kb(process.pid, "VmHWM")
        if not done:
            log(f"{name}: timed out after {timeout}s ({len(api.responses)} responses, {len(api.errors)} errors)")
        if process.poll() is not None:
            log(f"{name}: exited early with {process.returncode}")
        return api, elapsed, hwm, t0
    finally:
        stop(process)
        api.close()


def vm_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ------------------------------------------------------------------------------ events


def flow():
    """tests/lambda/flow.py, the lambda-test flow: its example input and stream-record format serve here too."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "lambda"))
    import flow as module  # needs boto3: run with the virtualenv's python, as `make bench` does

    return module


def creation_input(max_uses=1):
    """The design's example link-creation input, open for a day, with `max_uses` uses."""
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    return dict(copy.deepcopy(flow().EXAMPLE_INPUT), runAvailableUntil=until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                maxUrlUses=max_uses)


def http_event(method, path, body=None, content_type=None):
    """An API Gateway HTTP API (payload 2.0) event."""
    headers = {"accept": "text/html", "host": "links.example.com", "user-agent": "bench"}
    if content_type:
        headers["content-type"] = content_type
    now = datetime.datetime.now(datetime.timezone.utc)
    event = {
        "version": "2.0",
        "routeKey": f"{method} /i/{{token}}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "links.example.com",
            "domainPrefix": "links",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "bench"},
            "requestId": secrets.token_hex(8),
            "routeKey": f"{method} /i/{{token}}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": {"token": path.rsplit("/", 1)[-1]},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return json.dumps(event).encode()


def status_counts(api):
    """HTTP statuses of lambda_http responses (or `ok` for other functions), and errors."""
    counts = collections.Counter()
    for body in api.responses:
        try:
            counts[str(json.loads(body).get("statusCode", "ok"))] += 1
        except ValueError:
            counts["unreadable"] += 1
    if api.errors:
        counts["error"] += len(api.errors)
    return dict(counts)


# ------------------------------------------------------------------------------ measurements


def criterion_estimates():
    """(mean ns, median ns) of each criterion bench: {"group/bench": (mean, median)}."""
    found = {}
    base = os.path.join(TARGET, "criterion")
    for group in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        for bench in sorted(os.listdir(os.path.join(base, group))):
            path = os.path.join(base, group, bench, "new", "estimates.json")
            if os.path.exists(path):
                with open(path) as f:
                    data = json.load(f)
                found[f"{group}/{bench}"] = (data["mean"]["point_estimate"], data["median"]["point_estimate"])
    return found


def cargo(args, logname, env=None, timeout=600):
    with open(os.path.join(OUT, logname), "w") as out:
        process = start(["cargo", *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                        env=dict(os.environ, **(env or {})))
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"cargo {' '.join(args)}: over {timeout}s, stopped")
            return None
        finally:
            stop(process)


def measure_handlers():
    log("a. criterion benches (shared/benches/handlers.rs)")
    rc = cargo(["bench", "-p", "human-intervention", "--bench", "handlers"], "handlers.log")
    estimates = criterion_estimates() if rc == 0 else {}
    log("a. 10,000 individually timed submissions (shared/benches/submit_latency.rs)")
    rc = cargo(["bench", "-p", "human-intervention", "--bench", "submit_latency"], "submit_latency.log")
    latency = None
    with open(os.path.join(OUT, "submit_latency.log")) as f:
        for line in f:
            if line.startswith("BENCH_JSON "):
                latency = json.loads(line[len("BENCH_JSON "):])
    return estimates, latency


def measure_init(env_for):
    binaries = ([("hello-lambda", HELLO)] + [(f, os.path.join(BASELINE, f)) for f in sorted(FLOORS.values())]
                + [(f, os.path.join(RELEASE, f)) for f in FUNCTIONS])
    if BEFORE:
        binaries += [(f"{f} (before)", os.path.join(BEFORE, "x86", f)) for f in FUNCTIONS]
    binaries = [(name, binary) for name, binary in binaries if os.path.exists(binary)]
    samples = {name: [] for name, _ in binaries}
    # Round robin (hello, each function, hello, …) so the machine's drift falls on every binary alike; the
    # first round warms the page cache and is not counted.
    for i in range(INIT_RUNS + 1):
        for name, binary in binaries:
            api, _, _, t0 = run_function(binary, name, env_for(name.removesuffix(" (before)")), [], timeout=10)
            if api.first_next is None:
                log(f"b. {name}: never polled the runtime API")
            elif i:
                samples[name].append(api.first_next - t0)
    results = {}
    for name, values in samples.items():
        results[name] = statistics.median(values) if values else None
        if values:
            log(f"b. init {name}: median {results[name] * 1000:.2f} ms over {len(values)} runs "
                f"(min {min(values) * 1000:.2f}, max {max(values) * 1000:.2f})")
    return results


def diagnose_init(env_for):
    """What trusting more roots costs form-page's init: the functions trust the five Amazon Trust Services
    roots; AWS_CA_BUNDLE adds a bundle (here the whole system store, ~150 roots, as a proxy's users might)."""
    results = {}
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(bundle):
        return results
    samples = []
    for i in range(INIT_RUNS + 1):
        api, _, _, t0 = run_function(os.path.join(RELEASE, "form-page"), "form-page",
                                     dict(env_for("form-page"), AWS_CA_BUNDLE=bundle), [], timeout=10)
        if api.first_next is not None and i:
            samples.append(api.first_next - t0)
    if samples:
        results["AWS_CA_BUNDLE = system store"] = statistics.median(samples)
        log(f"b. init form-page, AWS_CA_BUNDLE={bundle}: median {results['AWS_CA_BUNDLE = system store'] * 1000:.2f} ms")
    return results


def dynamo():
    import boto3  # from the virtualenv that `make bench` runs this with

    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def submission_records(table, intervention_id):
    """Stream records (NEW_IMAGE) of the intervention's submission items, as the publisher receives them."""
    client = dynamo()
    items, start_key = [], None
    while True:
        args = dict(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
                    ExpressionAttributeValues={":pk": {"S": f"I#{intervention_id}"}, ":s": {"S": "S#"}},
                    ConsistentRead=True)
        if start_key:
            args["ExclusiveStartKey"] = start_key
        page = client.query(**args)
        items.extend(page["Items"])
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            break
    if items:
        ITEMS["submission"] = items[0]
    return [flow().stream_record(item, table, "bench", i) for i, item in enumerate(items)]


# Bytes and lines of log per event of each burst of `measure_memory`, at LOG_LEVEL=info: {row: {...}}.
LOG_VOLUME = {}
# Items as moto stored them during `measure_memory` (the cost model's sizes): {"intervention": …, "submission": …}.
ITEMS = {}


def log_volume(logs, events):
    """Per event: JSON log lines and bytes (stderr), EMF documents and bytes (stdout); the process's
    start-up lines are spread over the burst."""
    volume = {"events": events}
    for stream, key in (("stderr", "json"), ("stdout", "emf")):
        try:
            with open(f"{logs}.{stream}", "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        volume[f"{key}_lines"] = data.count(b"\n") / max(events, 1)
        volume[f"{key}_bytes"] = len(data) / max(events, 1)
    return volume


def measure_memory(env_for):
    """Peak RSS after BURST events: {row name: (kB, seconds, statuses)}."""
    results = {}

    def burst(row, name, binary, events, timeout=120, env=None):
        logs = os.path.join(OUT, "logs", re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")[:60])
        os.makedirs(os.path.dirname(logs), exist_ok=True)
        api, elapsed, hwm, _ = run_function(binary, name, env or env_for(name), events, timeout, logs)
        results[row] = (hwm, elapsed, status_counts(api), api)
        LOG_VOLUME[row] = log_volume(logs, len(events))
        log(f"e. {row}: VmHWM {hwm} kB, {len(events)} events in {elapsed:.1f}s, statuses {status_counts(api)}")
        return api

    burst("hello-lambda", "hello-lambda", HELLO, [b"{}"] * BURST)
    creations = [json.dumps(creation_input(max_uses=10_000)).encode() for _ in range(BURST)]
    api = burst("create-link (CreateSchedule + PutItem each)", "create-link", os.path.join(RELEASE, "create-link"),
                creations)
    created = [json.loads(b) for b in api.responses if b.startswith(b"{\"context\"") or b"interventionId" in b]
    if not created:
        log("e. create-link produced no link: the valid-link bursts are skipped")
        return results
    link = created[0]["context"]["approval.url"]
    token = link.rsplit("/i/", 1)[1]
    intervention_id = created[0]["interventionId"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")

    views = [http_event("GET", f"/i/{token}") for _ in range(BURST)]
    burst("form-page (valid link: GetItem each)", "form-page", os.path.join(RELEASE, "form-page"), views)
    views = [http_event("GET", f"/i/{forged}") for _ in range(BURST)]
    burst("form-page (forged link: 404, no AWS call)", "form-page", os.path.join(RELEASE, "form-page"), views)
    form = "application/x-www-form-urlencoded"
    # Valid submissions: moto takes 0.1-0.6 s per TransactWriteItems at this table size (it deep-copies the
    # table for each item of a transaction), so a short run records the stream images the publisher burst
    # uses, and the 1,000-event burst answers from StubDynamo with the item moto stored.
    posts = [http_event("POST", f"/i/{token}", f"decision=approve&refund.amount=100&note=ok&_submissionId=burst-{i}",
                        form) for i in range(BURST)]
    recorded = int(os.environ.get("BENCH_MOTO_SUBMISSIONS", "20"))
    burst(f"submission on moto ({recorded} events: GetItem + TransactWriteItems, + DeleteSchedule once)",
          "submission", os.path.join(RELEASE, "submission"), posts[:recorded])
    item = dynamo().get_item(TableName=env_for("submission")["TABLE_NAME"], ConsistentRead=True,
                             Key={"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": "I"}})["Item"]
    ITEMS["intervention"] = copy.deepcopy(item)
    item["uses"] = {"N": "1"}  # a later submission: the timer is gone already
    stub = StubDynamo(item)
    try:
        burst("submission (valid link, stub DynamoDB: GetItem + TransactWriteItems each)", "submission",
              os.path.join(RELEASE, "submission"), posts, env=dict(env_for("submission"), AWS_ENDPOINT_URL=stub.url))
        log(f"e. stub DynamoDB answered {dict(stub.calls)}")
    finally:
        stub.close()
    posts = [http_event("POST", f"/i/{forged}", f"decision=approve&_submissionId=forged-{i}", form)
             for i in range(BURST)]
    burst("submission (forged link: 404, no AWS call)", "submission", os.path.join(RELEASE, "submission"), posts)
    records = submission_records(env_for("publisher")["TABLE_NAME"], intervention_id)
    if records:
        events = [json.dumps({"Records": [records[i % len(records)]]}).encode() for i in range(BURST)]
        burst(f"publisher (1 record each: SendMessageBatch + UpdateItem; {len(records)} distinct)", "publisher",
              os.path.join(RELEASE, "publisher"), events)
    if "records" in FUNCTIONS:
        gets = [http_event("GET", f"/interventions/{intervention_id}") for _ in range(BURST)]
        burst("records (GET /interventions/{id})", "records", os.path.join(RELEASE, "records"), gets)
    if "timeout" in FUNCTIONS:
        timers = [json.dumps({"interventionId": intervention_id}).encode() for _ in range(BURST)]
        burst("timeout (timer of an answered link: GetItem, nothing to do)", "timeout",
              os.path.join(RELEASE, "timeout"), timers)
    return results


def wrk(url, script=None):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency"]
    if script:
        cmd += ["-s", script]
    done = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=WRK_SECONDS + 60)
    text = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    scale = {"us": 1, "ms": 1000, "s": 1_000_000}
    return {
        "rps": float(rps.group(1)) if rps else None,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "requests": int(total.group(1)) if total else None,
        "p99_us": float(p99.group(1)) * scale[p99.group(2)] if p99 else None,
        "raw": text,
    }


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_port(port, process, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def measure_throughput():
    results = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(["taskset", "-c", "0", LOCAL], env={"PATH": "/usr/bin:/bin", "PORT": str(port)},
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        link = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and link is None:
            line = server.stdout.readline()
            if not line:
                break
            if line.startswith("Demo link: "):
                link = line.split(": ", 1)[1].strip()
        if link is None:
            raise RuntimeError("the local server printed no demo link")
        threading.Thread(target=server.stdout.read, daemon=True).start()  # drain
        status, form_page = http("GET", link)
        assert status == 200, status
        # Links for the submissions: distinct submission ids spread over enough 10,000-use links that none
        # is used up within the run (a used-up link answers 410, counted below as non-2xx).
        links = []
        for _ in range(int(os.environ.get("BENCH_WRK_LINKS", "100"))):
            status, body = http("POST", f"{base}/interventions", json.dumps(creation_input(10_000)).encode(),
                                {"Content-Type": "application/json"})
            assert status == 200, body
            links.append(json.loads(body)["context"]["approval.url"])
        status, success_page = http("POST", links[0], b"decision=approve&refund.amount=100&note=ok&_submissionId=first",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, success_page
        script = os.path.join(OUT, "submit.lua")
        with open(script, "w") as f:
            paths = ",\n".join(f'  "{urllib.parse.urlparse(u).path}"' for u in links)
            f.write(
                "-- wrk: page posts with distinct submission ids, round-robin over the links\n"
                f"local paths = {{\n{paths}\n}}\n"
                "local n = 0\n"
                "request = function()\n"
                "  n = n + 1\n"
                "  local body = 'decision=approve&refund.amount=100&note=ok&_submissionId=w' .. n\n"
                "  return wrk.format('POST', paths[(n % #paths) + 1],\n"
                "    { ['Content-Type'] = 'application/x-www-form-urlencoded' }, body)\n"
                "end\n"
            )
        log(f"f. wrk GET the demo link for {WRK_SECONDS}s (server on core 0)")
        results["views"] = wrk(link)
        log(f"f. wrk POST submissions for {WRK_SECONDS}s")
        results["submissions"] = wrk(link, script)
        results["form_bytes"], results["success_bytes"] = len(form_page), len(success_page)
    finally:
        stop(server)
    for key, page, script in [("static_views", form_page, None), ("static_submissions", success_page, script)]:
        path = os.path.join(OUT, f"{key}.html")
        with open(path, "wb") as f:
            f.write(page)
        port = free_port()
        static = start(["taskset", "-c", "0", STATIC, str(port), path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            wait_port(port, static)
            log(f"f. wrk the static server ({key}) for {WRK_SECONDS}s")
            url = f"http://127.0.0.1:{port}" + urllib.parse.urlparse(link).path
            results[key] = wrk(url, script)
        finally:
            stop(static)
    with open(os.path.join(OUT, "wrk.txt"), "w") as f:
        for key, value in results.items():
            if isinstance(value, dict):
                f.write(f"== {key}\n{value['raw']}\n")
    return results


INSTRUCTIONS_BASELINE = os.path.join(ROOT, "benches", "instructions.json")
# Each hot path of shared/benches/instructions.rs and how many requests callgrind counts (the total / n).
INSTRUCTION_PATHS = [
    ("view", 200, "view a link viewed before (its page kept): GET /i/{token}, 20 fields, router"),
    ("view_first", 200, "view a link for the first time (its page rendered), 20 fields, router"),
    ("submit", 200, "submit: POST /i/{token}, 20 fields, router"),
    ("vote", 99, "quorum vote: POST /i/{token}, 3 reviewers, router"),
    ("create", 100, "create: Service::create, 20-field input"),
    ("publish10", 40, "publish ten continuations (publish_outbox), signed remotely as KMS does"),
    ("publish10_local", 10, "publish ten continuations, signed locally (P-256, the local server)"),
    ("sign_local", 40, "one local P-256 receipt signature"),
    ("render20", 200, "render a 20-field page"),
    ("parse_validate20", 200, "parse + validate a 20-field body"),
]


def instructions_binary():
    """The instructions bench's executable (cargo bench --no-run, built by `make bench`)."""
    done = subprocess.run(["cargo", "bench", "-p", "human-intervention", "--bench", "instructions", "--no-run",
                           "--message-format=json"], cwd=ROOT, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("target", {}).get("name") == "instructions" \
                and message.get("executable"):
            return message["executable"]
    raise RuntimeError(f"no instructions bench binary: {done.stderr[-2000:]}")


def callgrind_totals(path):
    """{event: total} of a callgrind output file."""
    events, totals = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:") or (line.startswith("summary:") and not totals):
                totals = [int(x) for x in line.split()[1:]]
    return dict(zip(events, totals))


def measure_instructions():
    """Per request of each hot path: {"path": {"Ir": instructions, "LLmiss": last-level cache misses}}."""
    binary = instructions_binary()
    results = {}
    for name, n, _ in INSTRUCTION_PATHS:
        out = os.path.join(OUT, f"callgrind.{name}.out")
        log(f"g. callgrind {name} ({n} requests)")
        done = subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--callgrind-out-file={out}",
                               "--collect-atstart=no", "--toggle-collect=*instructions::measured*", binary, name,
                               str(n)], capture_output=True, text=True, timeout=900)
        if done.returncode:
            log(f"g. {name}: valgrind exited with {done.returncode}: {done.stderr[-1000:]}")
            continue
        totals = callgrind_totals(out)
        misses = sum(totals.get(e, 0) for e in ("ILmr", "DLmr", "DLmw"))
        results[name] = {"Ir": round(totals.get("Ir", 0) / n), "LLmiss": round(misses / n, 1)}
    if os.environ.get("BENCH_INSTRUCTIONS_BASELINE") == "write" and len(results) == len(INSTRUCTION_PATHS):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        with open(INSTRUCTIONS_BASELINE, "w") as f:
            json.dump({"commit": commit, "date": datetime.date.today().isoformat(),
                       "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True,
                                                  text=True).stdout.strip(),
                       "paths": results}, f, indent=2)
            f.write("\n")
        log(f"g. wrote {INSTRUCTIONS_BASELINE}")
    return results


def instructions_baseline():
    try:
        with open(INSTRUCTIONS_BASELINE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"paths": {}}


def measure_round_trips():
    log("c. round trips (tests/tests/round_trips.rs against moto)")
    logfile = os.path.join(OUT, "round_trips.log")
    rc = cargo(["test", "-p", "intervention-tests", "--features", "aws", "--test", "round_trips", "--",
                "--nocapture", "--test-threads", "1"], "round_trips.log")
    rows = []
    with open(logfile) as f:
        for line in f:
            found = re.search(r"ROUND_TRIPS (.+?): calls=(\d+) requests=(\d+) \[(.*)\] budget \[(.*)\]", line)
            if found:
                rows.append(found.groups())
    return rc, rows


def zip_sizes():
    sizes = {}
    for name in FUNCTIONS:
        path = os.path.join(TARGET, "lambda", name, "bootstrap.zip")
        sizes[name] = os.path.getsize(path) if os.path.exists(path) else None
        if BEFORE:
            path = os.path.join(BEFORE, "zip", f"{name}.zip")
            sizes[f"{name} (before)"] = os.path.getsize(path) if os.path.exists(path) else None
    for baseline in ["hello-lambda", "hello-dynamodb"] + sorted(FLOORS.values()):
        path = os.path.join(TARGET, "baseline", "lambda", baseline, "bootstrap.zip")
        sizes[baseline] = os.path.getsize(path) if os.path.exists(path) else None
    return sizes


# ------------------------------------------------------------------------------ the table


class Table:
    HEAD = ("measure", "figure", "baseline (same run)", "baseline", "ratio", "budget", "verdict")

    def __init__(self):
        self.rows = []

    def section(self, title):
        self.rows.append(title)

    def add(self, measure, figure, what, baseline, ratio="", budget="", verdict=""):
        self.rows.append((measure, figure, what, baseline, ratio, budget, verdict))

    def render(self):
        rows = [r for r in self.rows if isinstance(r, tuple)]
        widths = [max(len(str(r[i])) for r in rows + [self.HEAD]) for i in range(len(self.HEAD))]
        line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
        out = [line(self.HEAD), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        for row in self.rows:
            out.append(line(row) if isinstance(row, tuple) else line((f"**{row}**",) + ("",) * 6))
        return "\n".join(out)


def ns(value):
    if value is None:
        return "n/a"
    if value >= 1_000_000:
        return f"{value / 1e6:.2f} ms"
    if value >= 1_000:
        return f"{value / 1e3:.2f} µs"
    return f"{value:.0f} ns"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "n/a"


def verdict(ok):
    return "n/a" if ok is None else ("ok" if ok else "OVER")


def release_profiles():
    import tomllib

    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        product = tomllib.load(f)["profile"]["release"]
    with open(os.path.join(ROOT, "benches", "hello-lambda", "Cargo.toml"), "rb") as f:
        baseline = tomllib.load(f)["profile"]["release"]
    return product, baseline


def check_profile():
    import tomllib

    product, _ = release_profiles()
    for package in ("hello-lambda", "floors"):
        with open(os.path.join(ROOT, "benches", package, "Cargo.toml"), "rb") as f:
            baseline = tomllib.load(f)["profile"]["release"]
        if product != baseline:
            sys.exit(f"benches/{package}/Cargo.toml's [profile.release] {baseline} differs from the root "
                     f"Cargo.toml's {product}: the baselines must be built with the product's profile")
    print(f"release profile (product and baselines): {product}")


def cost_table(init, round_trips, memory):
    """benches/cost.py's table from this run's figures."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cost

    def volume(prefix):
        row = next(r for r in LOG_VOLUME if r.startswith(prefix))
        return LOG_VOLUME[row]["json_bytes"] + LOG_VOLUME[row]["emf_bytes"]

    forged = next(r for r in memory if r.startswith("form-page (forged"))
    with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
        memory_mb = int(re.search(r"MemorySize:\s*(\d+)", f.read()).group(1))
    measured = {
        "calls": cost.round_trip_calls(round_trips),
        "sizes": {name: cost.item_size(item) for name, item in ITEMS.items()},
        "logs": {"create-link": volume("create-link"), "form-page": volume("form-page (valid"),
                 "submission": volume("submission (valid link, stub"), "publisher": volume("publisher"),
                 "timeout": volume("timeout")},
        "init": {name: seconds for name, seconds in init.items() if seconds},
        "own_ms": memory[forged][1] * 1000 / LOG_VOLUME[forged]["events"],
        "memory_mb": memory_mb,
    }
    with open(os.path.join(OUT, "cost_inputs.json"), "w") as f:
        f.write(cost.dumps(measured))
    emf = []
    for name in sorted(os.listdir(os.path.join(OUT, "logs"))):
        if name.endswith(".stdout") and not name.startswith("hello"):
            with open(os.path.join(OUT, "logs", name), errors="replace") as f:
                emf.extend(f)
    with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
        fixed = cost.fixed_monthly(f.read(), cost.emf_metrics(emf))
    return cost.table(measured) + "\n\n" + fixed


def main():
    os.makedirs(OUT, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        sys.exit("AWS_ENDPOINT_URL is not set: run through `make bench` (tests/moto/with-moto.sh starts moto)")
    setup = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "lambda", "flow.py"), "setup", OUT],
                           capture_output=True, text=True, timeout=120)
    if setup.returncode:
        sys.exit(f"moto setup failed: {setup.stdout}{setup.stderr}")
    aws = dict(line.split("=", 1) for line in open(os.path.join(OUT, "aws.env")).read().split("\n") if "=" in line)

    def env_for(name):
        if name == "hello-lambda":
            return {}
        return {
            "TABLE_NAME": aws["TABLE_NAME"],
            "QUEUE_URL": aws["QUEUE_URL"],
            "LINK_BASE_URL": LINK_BASE,
            "LINK_SIGNING_KEYS": aws["LINK_SIGNING_KEYS"],
            "AWS_ENDPOINT_URL": endpoint,
            "LOG_LEVEL": "info",
            # Timeout timers on, as deployed (flow.py made the schedule group): link creation makes one,
            # the first accepted submission removes it.
            "SCHEDULE_GROUP": aws["SCHEDULE_GROUP"],
            "TIMEOUT_FUNCTION_ARN": aws["TIMEOUT_FUNCTION_ARN"],
            "SCHEDULER_ROLE_ARN": aws["SCHEDULER_ROLE_ARN"],
            # log-export's bucket: read at start-up, written only when an export runs.
            "LOG_BUCKET": "decision-log",
            # Receipts are signed by KMS (moto's key, made by flow.py setup), as deployed; the reviewers'
            # emails come from the verified sender.
            "RECEIPT_KMS_KEY_IDS": aws["RECEIPT_KMS_KEY_IDS"],
            "EMAIL_FROM": aws["EMAIL_FROM"],
        }

    # BENCH_ONLY=abef (say) runs only those parts; the table shows n/a for the others.
    only = os.environ.get("BENCH_ONLY", "abcdefg")
    estimates, latency, init, rt_rc, round_trips, memory, throughput = {}, None, {}, None, [], {}, {}
    instructions = {}
    diagnosis = {}
    try:
        if "a" in only:
            estimates, latency = measure_handlers()
        if "b" in only:
            init = measure_init(env_for)
            diagnosis = diagnose_init(env_for)
        if "c" in only:
            rt_rc, round_trips = measure_round_trips()
        if "e" in only:
            memory = measure_memory(env_for)
        if "f" in only:
            throughput = measure_throughput()
        if "g" in only:
            try:
                instructions = measure_instructions()
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                log(f"g. instruction counts failed: {error}")
    finally:
        stop_all()
    sizes = zip_sizes()

    t = Table()
    t.section("a. handler cost, in-memory adapters (criterion mean; logs formatted as in production)")
    pairs = [
        ("token verify", "token/verify", "HMAC-SHA256 of the signed bytes", "token/hmac_floor"),
        ("form page render, 20 fields", "render/form_page_20", "HTML-escape the same page bytes",
         "render/escape_floor"),
        ("input parse + validate, 20 fields", "input/parse_validate_20", "URL-decode the same body",
         "input/urldecode_floor"),
        ("GET /i/{token} via router, 20 fields", "router/get_form_20", "GET stylesheet, same router",
         "router/get_stylesheet"),
        ("whole submission (Service::submit)", "submit/service_submit", "page view (Service::view)",
         "submit/service_view"),
    ]
    for measure, key, what, base in pairs:
        figure, baseline = estimates.get(key, (None,))[0], estimates.get(base, (None,))[0]
        t.add(measure, ns(figure), what, ns(baseline), ratio(figure, baseline))
    if latency:
        s, v = latency["submit"], latency["view"]
        t.add(f"whole submission p50 (n={s['n']:,})", ns(s["p50"]), "page view p50", ns(v["p50"]),
              ratio(s["p50"], v["p50"]))
        t.add(f"whole submission p99 (n={s['n']:,})", ns(s["p99"]), "page view p99", ns(v["p99"]),
              ratio(s["p99"], v["p99"]), "< 100 µs", verdict(s["p99"] < SUBMIT_P99_BUDGET_NS))
        t.add(f"whole submission p99.9 / max", f"{ns(s['p999'])} / {ns(s['max'])}", "page view p99.9 / max",
              f"{ns(v['p999'])} / {ns(v['max'])}")

    t.section(f"b. init time: spawn → first /runtime/invocation/next (median of {INIT_RUNS} round-robin runs, x86_64 release, non-PIE)")
    hello = init.get("hello-lambda")
    for name in FUNCTIONS:
        figure, floor = init.get(name), init.get(FLOORS[name])
        ok = None if figure is None or not hello else figure / hello <= INIT_RATIO_BUDGET
        t.add(f"init {name}", ns(figure * 1e9 if figure else None), "hello-world lambda_runtime",
              ns(hello * 1e9 if hello else None), ratio(figure, hello), f"≤ {INIT_RATIO_BUDGET}×", verdict(ok))
        t.add(f"  its own SDK floor: {FLOORS[name]} ({FLOOR_SERVICES[name]})", ns(floor * 1e9 if floor else None),
              "hello-world lambda_runtime", ns(hello * 1e9 if hello else None), ratio(floor, hello))
        t.add(f"  {name} beside its own floor", ns(figure * 1e9 if figure else None), FLOORS[name],
              ns(floor * 1e9 if floor else None), ratio(figure, floor))
        before = init.get(f"{name} (before)")
        if before:
            t.add(f"  {name} before ({BEFORE})", ns(before * 1e9), "hello-world lambda_runtime",
                  ns(hello * 1e9 if hello else None), ratio(before, hello))
    for label, figure in diagnosis.items():
        t.add(f"  form-page with {label}", ns(figure * 1e9), "hello-world lambda_runtime",
              ns(hello * 1e9 if hello else None), ratio(figure, hello), "", "")

    t.section("c. AWS round trips per operation (SDK interceptor, moto)" + ("" if rt_rc in (0, None) else " — TEST FAILED"))
    def calls(text):  # "DynamoDB.GetItem=1 SQS.SendMessageBatch=1" -> "GetItem 1, SendMessageBatch 1"
        return ", ".join(f"{name.split('.')[-1]} {n}" for name, n in (c.split("=") for c in text.split())) or "none"

    for operation, total, requests, shown, budget in round_trips:
        t.add(operation, f"{total}: {calls(shown)}", "design budget", calls(budget), "", "≤ budget",
              verdict(rt_rc == 0))

    t.section("d. package size: arm64 bootstrap.zip (make package), beside the SDK floor (hello-world + one DynamoDB GetItem)")
    sdk_floor = sizes.get("hello-dynamodb")
    size_of = lambda n: f"{n:,} B" if n else "not built"
    for name in FUNCTIONS:
        size, floor = sizes.get(name), sizes.get(FLOORS[name])
        t.add(f"zip {name}", size_of(size), "SDK floor zip", size_of(sdk_floor), ratio(size, sdk_floor),
              f"≤ {ZIP_FLOOR_RATIO_BUDGET}×",
              verdict(None if size is None or not sdk_floor else size / sdk_floor <= ZIP_FLOOR_RATIO_BUDGET))
        t.add(f"  its own SDK floor: {FLOORS[name]} ({FLOOR_SERVICES[name]})", size_of(floor), "SDK floor zip",
              size_of(sdk_floor), ratio(floor, sdk_floor))
        t.add(f"  {name} beside its own floor", size_of(size), FLOORS[name], size_of(floor), ratio(size, floor))
        before = sizes.get(f"{name} (before)")
        if before:
            t.add(f"  {name} before ({BEFORE})", size_of(before), "SDK floor zip", size_of(sdk_floor),
                  ratio(before, sdk_floor))
    base = sizes.get("hello-lambda")
    t.add("  SDK floor: hello-world + one DynamoDB GetItem", size_of(sdk_floor), "hello-world zip", size_of(base),
          ratio(sdk_floor, base))

    t.section(f"e. peak RSS (VmHWM) after a burst of {BURST:,} events through the runtime emulator")
    hello_rss = memory.get("hello-lambda", (None,))[0]
    for row, (kb, elapsed, statuses, _) in memory.items():
        if row == "hello-lambda":
            continue
        answered = ", ".join(f"{n}×{status}" for status, n in statuses.items())
        t.add(f"{row} [{answered}]", f"{kb / 1024:.1f} MiB" if kb else "n/a", "hello-world, same burst",
              f"{hello_rss / 1024:.1f} MiB" if hello_rss else "n/a", ratio(kb, hello_rss), "≤ 24 MiB",
              verdict(None if kb is None else kb <= RSS_BUDGET_KB))

    t.section(f"f. throughput: local server on 1 core, wrk -t1 -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s on loopback")
    for key, base_key, what, goal in [
            ("views", "static_views", "form views/s (demo link, its page kept)", VIEWS_RATIO_BUDGET),
            ("submissions", "static_submissions", "submissions/s (distinct ids)", SUBMISSIONS_RATIO_BUDGET)]:
        r, b = throughput.get(key), throughput.get(base_key)
        if r and b:
            t.add(what + (f", non-2xx {r['non2xx']}" if r["non2xx"] else ""),
                  f"{r['rps']:,.0f}/s (p99 {r['p99_us'] / 1000:.2f} ms)",
                  "static server, same bytes & stack", f"{b['rps']:,.0f}/s (p99 {b['p99_us'] / 1000:.2f} ms)",
                  ratio(r["rps"], b["rps"]), f"≥ {goal}×", verdict(r["rps"] >= goal * b["rps"]))

    t.section("h. log volume per event at LOG_LEVEL=info (the bursts of e; start-up lines spread over the burst)")
    for row, v in LOG_VOLUME.items():
        if row == "hello-lambda":
            continue
        t.add(row,
              f"{v['json_lines']:.2f} lines, {v['json_bytes']:,.0f} B JSON + {v['emf_bytes']:,.0f} B EMF",
              "lines per request", "1", ratio(v["json_lines"], 1), "≤ 1 line", verdict(v["json_lines"] <= 1.0))

    baseline = instructions_baseline()
    t.section(f"g. instructions per request (callgrind, bench profile) beside benches/instructions.json "
              f"({baseline.get('commit', 'none')}, {baseline.get('date', '')})")
    for name, _, what in INSTRUCTION_PATHS:
        figure, base = instructions.get(name), baseline["paths"].get(name)
        t.add(what, f"{figure['Ir']:,} Ir, {figure['LLmiss']:g} LL miss" if figure else "n/a", "committed baseline",
              f"{base['Ir']:,} Ir, {base['LLmiss']:g} LL miss" if base else "none",
              ratio(figure and figure["Ir"], base and base["Ir"]))

    product, _ = release_profiles()
    profile = ", ".join(f"{k} = {json.dumps(v)}" for k, v in product.items())
    table = f"[profile.release] {profile}; {os.cpu_count()} cores, shared\n\n" + t.render()
    try:
        costs = cost_table(init, round_trips, memory)
    except (KeyError, ValueError, StopIteration, ZeroDivisionError, TypeError, OSError) as error:
        costs = f"cost model: not computed ({type(error).__name__}: {error})"
    table += "\n\n" + costs
    with open(os.path.join(OUT, "table.txt"), "w") as f:
        f.write(table + "\n")
    print(table)
    log(f"measurements took {time.monotonic() - started:.0f}s; logs in {OUT}")
    over = "OVER" in table or rt_rc not in (0, None)
    sys.exit(1 if over and os.environ.get("BENCH_FAIL_OVER") else 0)


if __name__ == "__main__":
    if sys.argv[1:] == ["check-profile"]:
        check_profile()
        sys.exit(0)
    try:
        main()
    finally:
        stop_all()

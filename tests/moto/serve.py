"""moto's server, one request at a time; with a Lambda bridge, wire counts and scripted answers for the
Step Functions tests.

moto's backends keep their state in plain dicts without locks: its DynamoDB checks a transaction's
conditions and applies its writes unguarded, so under the threaded server two concurrent transactions can
both pass `uses < maxUses`, which real DynamoDB never lets happen. Running moto's own WSGI app behind one
lock makes each request atomic, keeps HTTP keep-alive, and lets a burst of a thousand connections wait in
a deep listen backlog.

Who still needs it: the DynamoDB store tests and the 1,000-submission races no longer run on moto but on
dynoxide (tests/dynoxide/with-dynoxide.sh: each operation atomic under dynoxide's own database lock, with
no lock of ours in front of it), so here the lock guards the SQS and Scheduler requests that the tests of
`make aws-test` send from many threads at once. The Lambda flow (tests/lambda, moto for everything) and
`make bench` invoke one function at a time, so their requests reach moto one after another and the lock
decides nothing for them; it stays so that no DynamoDB test put back on moto can pass on a store that is
not atomic.

For the Step Functions flow (moto's ASL interpreter runs the executions, and its service integrations call
this server at http://localhost:$MOTO_PORT), two corrections of moto's interpreter (SendTaskHeartbeat and
StopExecution, below)
and three things in front of moto, none of them moto's:

- The Lambda bridge. When a bridge URL is set (env LAMBDA_BRIDGE at start, or `POST /__bridge {"url": …}`;
  `{"url": null}` turns it off), a Lambda Invoke (`POST /2015-03-31/functions/<name or ARN>/invocations`) is
  forwarded to `cargo lambda watch`'s emulator at the same path with the function's NAME (an ARN's part
  after `function:`, without a qualifier), outside the lock (the function itself calls moto). Its answer is
  returned as Lambda's Invoke answers: a function error is 200 with `X-Amz-Function-Error: Unhandled` and
  the error object (errorType, errorMessage) as the body, which is what the interpreter's Catch and Retry
  route on (watch answers a function error with a 500 and no such header). An emulator that cannot be
  reached is Lambda's 502 ServiceException (the interpreter's `Lambda.ServiceException`).
- Counts on the wire: every request with an `X-Amz-Target` header (AWSStepFunctions.SendTaskSuccess,
  DynamoDB_20120810.PutItem, …) and every Lambda Invoke (`Lambda.Invoke/<name>`), counted before it is
  answered; `GET /__calls` answers `{"counts": {key: n}}`, `DELETE /__calls` resets them.
- Scripted answers, where moto is lenient and AWS is not: `POST /__script {"key": KEY, "responses": [R, …]}`
  queues answers for the next requests of KEY (an X-Amz-Target or `Lambda.Invoke/<name>`), one each, instead
  of moto's or the bridge's; R is `{"status": 400, "body": {...}, "headers": {...}}`, or for a Lambda Invoke
  also `{"error": {"errorType": …, "errorMessage": …}}` (a function error, as above) or `{"lost": true}`
  (the invocation is forwarded and runs, but its answer is dropped: the caller gets Lambda's 500
  ServiceException, as when a response is lost on the way back). Shorthand:
  `{"AWSStepFunctions.SendTaskSuccess": R, "times": n}`. `GET /__script` shows what is left, `DELETE
  /__script` drops it all. A scripted request is still counted.
- The emails SES kept: `GET /__ses/sent` answers `{"sent": [{"id", "source", "destinations", "raw"}]}`, every
  raw message sent (SES v1 SendRawEmail or v2 SendEmail with raw content) in every account and region,
  oldest first. moto's own `/moto-api/data.json` has them too, but serialises every model of every service,
  which takes seconds once the other tests have filled the tables and queues.
"""

import http.client
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid

import werkzeug.serving
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

werkzeug.serving.LISTEN_QUEUE = 4096

# One divergence of moto's interpreter from Step Functions, corrected: moto accepts SendTaskHeartbeat only
# once the task waits with a HeartbeatSeconds timer, so a heartbeat sent while the `.waitForTaskToken`
# task's own Lambda call is still running (create-link's attach proves its token so), or for a task without
# HeartbeatSeconds, is InvalidToken there. Step Functions accepts a heartbeat for any task not yet answered.
_notify_heartbeat = CallbackEndpoint.notify_heartbeat


def notify_heartbeat(self):
    return _notify_heartbeat(self) or self.get_outcome() is None


CallbackEndpoint.notify_heartbeat = notify_heartbeat

# And another: StopExecution leaves a run that waits for a task token RUNNING until the wait ends (moto
# interrupts nothing), where Step Functions aborts it at once. Stopping interrupts the run's waits here, and
# the error the interrupted wait then raises no longer turns the stopped run into a failed one (moto's
# set_error overrides any state): the run ends ABORTED, with ExecutionAborted last in its history (the
# interrupted task's TaskTimedOut event before it is moto's).
_set_stop, _set_error = Environment.set_stop, Environment.set_error


def set_stop(self, stop_date, cause, error):
    _set_stop(self, stop_date, cause, error)
    for endpoint in list(self.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


def set_error(self, error):
    if not isinstance(self.program_state(), ProgramStopped):
        _set_error(self, error)


Environment.set_stop, Environment.set_error = set_stop, set_error

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

# The harness's own state, under its own lock (never held while moto or the bridge answers).
harness = threading.Lock()
bridge = {"url": os.environ.get("LAMBDA_BRIDGE") or None}
counts = {}
scripts = {}  # key -> list of answers still to give

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Request headers the emulator is given (an Invoke's own; the SigV4 ones are moto's business).
FORWARDED = ("Content-Type", "X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context")


def function_name(segment):
    """`name`, `name:qualifier`, or an ARN `arn:aws:lambda:region:account:function:name[:qualifier]`."""
    name = urllib.parse.unquote(segment)
    if name.startswith("arn:"):
        name = name.split(":function:", 1)[1] if ":function:" in name else name.rsplit(":", 1)[-1]
    return name.split(":", 1)[0]


def answer(start_response, status, body, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # A request id as AWS's answers carry (moto's interpreter reads it from an error's ResponseMetadata).
    out = {"Content-Type": "application/json", "Content-Length": str(len(data)), "x-amzn-RequestId": str(uuid.uuid4())}
    out.update(headers or {})
    reason = http.client.responses.get(status, "")
    start_response(f"{status} {reason}", list(out.items()))
    return [data]


def read_body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def control(environ, start_response):
    """The /__… routes."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/__calls":
        with harness:
            if method == "DELETE":
                counts.clear()
            return answer(start_response, 200, {"counts": dict(counts)})
    if path == "/__bridge":
        if method == "POST":
            url = json.loads(read_body(environ) or b"{}").get("url")
            with harness:
                bridge["url"] = url.rstrip("/") if url else None
        with harness:
            return answer(start_response, 200, {"url": bridge["url"]})
    if path == "/__script":
        with harness:
            if method == "DELETE":
                scripts.clear()
            elif method == "POST":
                spec = json.loads(read_body(environ) or b"{}")
                if "key" in spec:
                    scripts.setdefault(spec["key"], []).extend(spec["responses"])
                else:
                    times = int(spec.pop("times", 1))
                    for key, response in spec.items():
                        scripts.setdefault(key, []).extend([response] * times)
            return answer(start_response, 200, {k: len(v) for k, v in scripts.items() if v})
    if path == "/__ses/sent":
        from moto.ses.models import RawMessage, ses_backends
        with lock:
            sent = [
                {"id": m.id, "source": m.source, "destinations": list(m.destinations), "raw": m.raw_data}
                for regions in ses_backends.values()
                for backend in regions.values()
                for m in backend.sent_messages
                if isinstance(m, RawMessage)
            ]
        return answer(start_response, 200, {"sent": sent})
    return answer(start_response, 404, {"message": f"no harness route {method} {path}"})


def scripted(start_response, response, lambda_invoke):
    if lambda_invoke and "error" in response:
        headers = {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"}
        headers.update(response.get("headers", {}))
        return answer(start_response, 200, response["error"], headers)
    headers = dict(response.get("headers", {}))
    if not lambda_invoke:
        headers.setdefault("Content-Type", "application/x-amz-json-1.0")
        body = response.get("body", {})
        if isinstance(body, dict) and "__type" in body:
            headers.setdefault("x-amzn-ErrorType", body["__type"])
    return answer(start_response, int(response.get("status", 200)), response.get("body", {}), headers)


def forward(start_response, environ, url, name):
    """The Invoke to the emulator, its answer as Lambda's."""
    body = read_body(environ)
    target = urllib.parse.urlsplit(url)
    headers = {h: environ[k] for h in FORWARDED if (k := "HTTP_" + h.upper().replace("-", "_")) in environ}
    if "CONTENT_TYPE" in environ:
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    path = (target.path.rstrip("/") + f"/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/invocations")
    query = environ.get("QUERY_STRING")
    if query:
        path += "?" + query
    try:
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=900)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        status, error_header = response.status, response.getheader("X-Amz-Function-Error")
        conn.close()
    except OSError as error:
        return answer(start_response, 502, {"Type": "Service", "message": f"the Lambda bridge: {error}"},
                      {"x-amzn-ErrorType": "ServiceException"})
    out = {"X-Amz-Executed-Version": "$LATEST"}
    if status == 200 and not error_header:
        return answer(start_response, 200, data, out)
    # A function error: the emulator answers 500 with the runtime's error object ({errorType, errorMessage}).
    # Lambda's Invoke answers it 200 with X-Amz-Function-Error. Anything else (the emulator's own refusal,
    # e.g. no such function) is Lambda's 404 ResourceNotFoundException or a ServiceException.
    try:
        error = json.loads(data)
    except ValueError:
        error = None
    if isinstance(error, dict) and "errorType" in error:
        out["X-Amz-Function-Error"] = error_header or "Unhandled"
        return answer(start_response, 200, data, out)
    if status == 404:
        return answer(start_response, 404, {"Type": "User", "message": f"Function not found: {name}"},
                      {"x-amzn-ErrorType": "ResourceNotFoundException"})
    return answer(start_response, 502, {"Type": "Service", "message": f"the emulator answered {status}: "
                                         + data.decode("utf-8", "replace")[:500]},
                  {"x-amzn-ErrorType": "ServiceException"})


def serialised(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/__"):
        return control(environ, start_response)
    invoke = INVOKE.match(path) if environ.get("REQUEST_METHOD") == "POST" else None
    name = function_name(invoke.group(1)) if invoke else None
    key = f"Lambda.Invoke/{name}" if invoke else environ.get("HTTP_X_AMZ_TARGET")
    response, url = None, None
    with harness:
        if key:
            counts[key] = counts.get(key, 0) + 1
            if scripts.get(key):
                response = scripts[key].pop(0)
        url = bridge["url"]
    if response is not None and response.get("lost") and invoke and url:
        # The function runs, its answer is lost on the way back: Lambda's caller sees a ServiceException.
        forward(lambda *_: None, environ, url, name)
        return answer(start_response, 500, {"Type": "Service", "message": "scripted: the function's answer was lost"},
                      {"x-amzn-ErrorType": "ServiceException"})
    if response is not None:
        read_body(environ)
        return scripted(start_response, response, bool(invoke))
    if invoke and url:
        return forward(start_response, environ, url, name)
    with lock:
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    werkzeug.serving.run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)

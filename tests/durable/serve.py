"""The durable execution emulator on loopback, strict where it forgives, with wire counts: the waiting run
of tests/lambda/durable.py (and tests/durable/check.py).

    serve.py [PORT]     (0 or none: a free port) prints `http://127.0.0.1:<port>` on its first line

It runs PyPI's `aws-durable-execution-sdk-python-testing` (the in-process test runner's executor: its store,
checkpoint processor, scheduler and worker, with the real clock, so a callback's timeout and heartbeat
timeout pass in real seconds) behind the package's own web server, which serves the durable execution HTTP
API as aws-sdk-lambda calls it, under /2025-12-01/:

    POST durable-execution-callbacks/{CallbackId}/succeed     SendDurableExecutionCallbackSuccess (body: Result)
    POST durable-execution-callbacks/{CallbackId}/fail        SendDurableExecutionCallbackFailure ({"ErrorType", …})
    POST durable-execution-callbacks/{CallbackId}/heartbeat   SendDurableExecutionCallbackHeartbeat
    GET  durable-executions/{Arn}                             GetDurableExecution (Status, Result, Error)
    GET  durable-executions/{Arn}/history                     GetDurableExecutionHistory (the callbacks' ids)
    POST durable-executions/{Arn}/stop                        StopDurableExecution

Three durable functions are registered: `durable-approval` (infra/examples/durable_approval.py, whose Lambda
client invokes create-link at AWS_ENDPOINT_URL: moto's bridge to the functions under `cargo lambda watch`,
tests/moto/serve.py; CREATE_LINK_FUNCTION defaults to `create-link`), `attach` (wait_for_callback on an
intervention made elsewhere, `{"interventionId"}`, its submitter the example's attach call) and `probe`
(waits for one callback and returns its result; its input may set `timeoutSeconds` and `heartbeatSeconds`).

What the emulator forgives, compared to Lambda (read in the package's executor.py, execution.py and
web/handlers.py, version 1.4.0), and what this server does instead:

- A callback that is closed (answered, failed, timed out, or its execution ended): Lambda answers 400
  CallbackTimeoutException ("The callback ID token has either expired or the callback associated with the
  token has already been closed"). The emulator wraps every refusal into 404 ResourceNotFoundException.
  The product relies on the difference (CallbackTimeoutException: the run is gone, the link answers Link
  has expired), so here: 400, `x-amzn-ErrorType: CallbackTimeoutException`, body
  `{"Type": "User", "__type": "CallbackTimeoutException", "message": …}`, for succeed, fail and heartbeat
  alike.
- Its errors carry the code only as the body's `Type` (`{"Type": "ResourceNotFoundException", …}`), with no
  `x-amzn-ErrorType` header and no `__type`: an SDK reads no error code from that (aws-sdk-lambda's
  rest-json errors read the header, then `__type` or `code`). Here every error the emulator answers gets the
  header and `__type`, as Lambda's do.
- No limits on the request: the Result of a succeed may be any size (the web server takes up to 10 MB)
  where Lambda refuses more than 262,144 bytes (256 KB); the CallbackId is any base64 the emulator can
  decode, where Lambda's is 1 to 1,024 characters of `[A-Za-z0-9+/]+={0,2}`. Here both are refused as Lambda
  documents them: 400 InvalidParameterValueException.
- No authentication at all (any signature, any credentials). Not emulated: infra/check_iam.py checks who may
  call what.
- What it does hold as Lambda does: a callback's timeout and heartbeat timeout (real-time timers: the
  waiting operation ends TIMED_OUT and the function sees CallbackTimeoutError), a heartbeat resets the
  heartbeat timer, a failure's ErrorType reaches the callback operation, and only one answer closes a callback.

The harness's own routes (never Lambda's):

    GET /__calls          {"counts": {"succeed": n, "fail": n, "heartbeat": n},
                           "answers": {"succeed 200": n, "succeed 400 CallbackTimeoutException": n, …}}
                          every callback request on the wire, counted before it is answered
    DELETE /__calls       resets them
    POST /__start         {"function": "durable-approval" | "attach" | "probe", "input": {…}, "name": "…"} →
                          {"executionArn": …} (starts an execution, asynchronously)
    POST /__strict        {"strict": false} answers as the emulator does (tests/durable/check.py shows the
                          difference), {"strict": true} as Lambda does (the default)

Callback ids are secrets like task tokens: this server logs the emulator's ERROR lines only (it logs the ids at
INFO and in its timeouts' WARNING lines) and never prints one.
"""

import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import urllib.parse
import uuid

from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, WaitForCallbackConfig
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.lambda_service import OperationStatus
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from aws_durable_execution_sdk_python_testing.token import CallbackToken
from aws_durable_execution_sdk_python_testing.web.server import RequestHandler, WebServer, WebServiceConfig

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXAMPLE = os.path.join(ROOT, "infra", "examples", "durable_approval.py")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
# Lambda's limits (API reference, SendDurableExecutionCallbackSuccess).
MAX_RESULT_BYTES = 262144
CALLBACK_ID = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
CALLBACK_ROUTE = re.compile(r"^/2025-12-01/durable-execution-callbacks/([^/]+)/(succeed|fail|heartbeat)$")


os.environ.setdefault("CREATE_LINK_FUNCTION", "create-link")


def load_example():
    spec = importlib.util.spec_from_file_location("durable_approval", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["durable_approval"] = module
    spec.loader.exec_module(module)
    return module


@durable_execution
def probe(event, context):
    """Waits for one callback (the submitter does nothing) and returns its result."""
    event = event or {}
    config = CallbackConfig(timeout=Duration(seconds=int(event.get("timeoutSeconds", 600))),
                            heartbeat_timeout=Duration(seconds=int(event.get("heartbeatSeconds", 0))))
    callback = context.create_callback(name="probe", config=config)
    return {"result": callback.result()}


@durable_execution
def attach(event, context):
    """Attaches to an intervention made elsewhere ({"interventionId"}) with wait_for_callback, whose submitter is
    the example's attach call to create-link, and returns the decision (tests/lambda/durable.py D3: a decision
    recorded before the callback id arrives is delivered on arrival)."""
    def submit(callback_id, _):
        example.create_link({"interventionId": event["interventionId"], "callbackId": callback_id})
    # Retried as the example retries its steps (what is worth it only), not the SDK's default (every error).
    config = WaitForCallbackConfig(timeout=Duration(seconds=600), retry_strategy=example.retried().retry_strategy)
    return {"decision": json.loads(context.wait_for_callback(submit, name="decision", config=config))}


example = load_example()
runner = DurableFunctionTestRunner(handler=example.handler, skip_time=False, region=REGION,
                                   execution_timeout=3600)
runner.register_durable_function("durable-approval", example.handler, execution_timeout=3600)
runner.register_durable_function("probe", probe, execution_timeout=3600)
runner.register_durable_function("attach", attach, execution_timeout=3600)
executor = runner._executor  # the web server serves the runner's executor

harness = threading.Lock()
state = {"strict": True, "counts": {}, "answers": {}}
# One callback request at a time: the check of a callback's state and the emulator's answer are one step.
callbacks = threading.Lock()


def error_body(code, message, status):
    return status, {"Type": "User" if status < 500 else "Service", "__type": code, "message": message}, code


def callback_state(callback_id):
    """None when the callback is open; else (status, body, code) as Lambda answers."""
    try:
        token = CallbackToken.from_str(callback_id)
        execution = executor.get_execution(token.execution_arn)
        _, operation = execution.find_callback_operation(callback_id)
    except Exception:  # noqa: BLE001 - undecodable, no such execution or callback
        return error_body("ResourceNotFoundException", "The callback does not exist.", 404)
    if execution.is_complete or operation.status != OperationStatus.STARTED:
        return error_body("CallbackTimeoutException",
                          "The callback ID token has either expired or the callback associated with the token "
                          "has already been closed.", 400)
    return None


def refusal(kind, callback_id, body):
    """Lambda's refusal of a callback request the emulator would take or answer otherwise, or None."""
    if not (1 <= len(callback_id) <= 1024 and CALLBACK_ID.match(callback_id)):
        return error_body("InvalidParameterValueException",
                          "CallbackId: 1 to 1024 characters of [A-Za-z0-9+/]+={0,2}.", 400)
    if kind == "succeed" and len(body) > MAX_RESULT_BYTES:
        return error_body("InvalidParameterValueException",
                          f"Result: {len(body)} bytes, the maximum is {MAX_RESULT_BYTES}.", 400)
    return callback_state(callback_id)


class Handler(RequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status, body, code=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if code:
            self.send_header("x-amzn-ErrorType", code)
        self.end_headers()
        self.wfile.write(data)

    def _send_response(self, response):
        """The emulator's answers: an error gets the header and `__type` Lambda's carry; on a callback route
        an emulator refusal of a closed callback is Lambda's CallbackTimeoutException."""
        body = response.body if isinstance(response.body, dict) else {}
        if response.status_code >= 400:
            code = body.get("__type") or body.get("Type") or "ServiceException"
            route = getattr(self, "_callback", None)
            if route and state["strict"] and response.status_code == 404:
                strict = callback_state(route[1])
                if strict:
                    status, body, code = strict
                    self._count(route[0], status, code)
                    return self._answer(status, body, code)
            if route:
                self._count(route[0], response.status_code, code)
            if not state["strict"]:
                return super()._send_response(response)
            out = dict(body)
            out.setdefault("__type", code)
            out.setdefault("message", body.get("Message", ""))
            return self._answer(response.status_code, out, code)
        route = getattr(self, "_callback", None)
        if route:
            self._count(route[0], response.status_code, None)
        data = response.body_to_bytes() if response.body else b""
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _count(self, kind, status, code):
        key = f"{kind} {status}" + (f" {code}" if code else "")
        with harness:
            state["answers"][key] = state["answers"].get(key, 0) + 1

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_DELETE(self):  # noqa: N802
        self._handle_request("DELETE")

    def _handle_request(self, method):
        path = self.path.split("?", 1)[0]
        self._callback = None
        if path.startswith("/__"):
            return self._control(method, path)
        match = CALLBACK_ROUTE.match(path) if method == "POST" else None
        if not match:
            return super()._handle_request(method)
        callback_id, kind = urllib.parse.unquote(match.group(1)), match.group(2)
        body = self._body()
        with harness:
            state["counts"][kind] = state["counts"].get(kind, 0) + 1
        with callbacks:
            if state["strict"]:
                refused = refusal(kind, callback_id, body)
                if refused:
                    status, out, code = refused
                    self._count(kind, status, code)
                    return self._answer(status, out, code)
            self._callback = (kind, callback_id)
            # The emulator reads the body again.
            self.rfile = io.BytesIO(body)
            return super()._handle_request(method)

    def _control(self, method, path):
        if path == "/__calls":
            with harness:
                if method == "DELETE":
                    state["counts"].clear()
                    state["answers"].clear()
                return self._answer(200, {"counts": dict(state["counts"]), "answers": dict(state["answers"])})
        if path == "/__start" and method == "POST":
            spec = json.loads(self._body() or b"{}")
            function = spec.get("function", "durable-approval")
            if function not in ("durable-approval", "probe", "attach"):
                return self._answer(400, {"message": f"no function {function}"})
            arn = runner.run_async(input=json.dumps(spec.get("input", {})), function_name=function,
                                   execution_name=spec.get("name") or str(uuid.uuid4()), execution_timeout=3600)
            return self._answer(200, {"executionArn": arn})
        if path == "/__strict" and method == "POST":
            strict = bool(json.loads(self._body() or b"{}").get("strict", True))
            with harness:
                state["strict"] = strict
            return self._answer(200, {"strict": strict})
        return self._answer(404, {"message": f"no harness route {method} {path}"})

    def log_message(self, format_string, *args):
        pass  # a request line holds the callback id


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = WebServer(WebServiceConfig(host="127.0.0.1", port=port, log_level=logging.WARNING), executor)
    server.RequestHandlerClass = Handler
    # The emulator logs callback ids at INFO, DEBUG and in its timeouts' WARNING lines.
    logging.getLogger("aws_durable_execution_sdk_python_testing").setLevel(logging.ERROR)
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.WARNING)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        runner.close()


if __name__ == "__main__":
    main()

"""The emulator itself, through boto3 as a client of Lambda's API: what tests/durable/serve.py answers, and
what the emulator alone would have answered (serve.py's POST /__strict {"strict": false}).

    check.py URL        against a running serve.py (tests/lambda/durable.py runs it as step D0)
    check.py            starts serve.py on a free port, runs the checks, stops it

One PASS/FAIL line each:
  E1 a probe execution blocks in its callback; SendDurableExecutionCallbackSuccess (boto3) → it completes
     with the result; a second succeed → CallbackTimeoutException 400 (and the emulator alone: 404
     ResourceNotFoundException with no x-amzn-ErrorType); a heartbeat and a failure of the closed callback
     → CallbackTimeoutException
  E2 a callback whose timeout passes: the execution fails (CallbackTimeoutError), a succeed then →
     CallbackTimeoutException; a Result over 256 KB and a malformed callback id → InvalidParameterValueException
  E3 SendDurableExecutionCallbackFailure with ErrorType InterventionCancelled: the execution fails with it
The counts on the wire (GET /__calls) match the requests sent.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


class Emulator:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.lam = boto3.client("lambda", endpoint_url=self.url, region_name=os.environ.get("AWS_REGION", "eu-west-1"),
                                aws_access_key_id="testing", aws_secret_access_key="testing",
                                config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60))

    def harness(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def start(self, function, payload):
        return self.harness("POST", "/__start", {"function": function, "input": payload})["executionArn"]

    def callback_ids(self, arn):
        """The execution's callback ids, oldest first (from its history, as a client of the API reads them)."""
        events = self.lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        return [e["CallbackStartedDetails"]["CallbackId"] for e in events if "CallbackStartedDetails" in e]

    def wait(self, what, predicate, seconds=60):
        deadline = time.monotonic() + seconds
        while True:
            value = predicate()
            if value:
                return value
            check(time.monotonic() < deadline, f"{what}: not within {seconds}s")
            time.sleep(0.1)

    def callback(self, arn):
        return self.wait("the callback", lambda: (self.callback_ids(arn) or [None])[0])

    def ended(self, arn):
        def done():
            described = self.lam.get_durable_execution(DurableExecutionArn=arn)
            return described if described["Status"] != "RUNNING" else None
        return self.wait("the execution to end", done)

    def refused(self, call):
        """(HTTP status, error code, x-amzn-ErrorType header) of a refused call."""
        try:
            call()
        except botocore.exceptions.ClientError as error:
            meta = error.response["ResponseMetadata"]
            return (meta["HTTPStatusCode"], error.response["Error"].get("Code"),
                    meta.get("HTTPHeaders", {}).get("x-amzn-errortype"))
        raise Failed("the call was accepted")

    def counts(self):
        return self.harness("GET", "/__calls")["counts"]


def e1(emu):
    before = emu.counts()
    arn = emu.start("probe", {})
    callback_id = emu.callback(arn)
    check(emu.lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING", "the probe did not block")
    emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'{"decision": "approve"}')
    described = emu.ended(arn)
    check(described["Status"] == "SUCCEEDED" and json.loads(described["Result"]) == {"result": '{"decision": "approve"}'},
          f"the probe ended {described['Status']}: {described.get('Result')} {described.get('Error')}")
    second = emu.refused(lambda: emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"{}"))
    check(second == (400, "CallbackTimeoutException", "CallbackTimeoutException"), f"a second succeed: {second}")
    beat = emu.refused(lambda: emu.lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id))
    fail = emu.refused(lambda: emu.lam.send_durable_execution_callback_failure(
        CallbackId=callback_id, Error={"ErrorType": "InterventionCancelled", "ErrorMessage": "late"}))
    check(beat[1] == fail[1] == "CallbackTimeoutException", f"heartbeat {beat}, failure {fail} of the closed callback")
    emu.harness("POST", "/__strict", {"strict": False})
    try:
        lenient = emu.refused(lambda: emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"{}"))
    finally:
        emu.harness("POST", "/__strict", {"strict": True})
    # What serve.py corrects: if the emulator ever answers as Lambda does, its notes (and this check) change.
    check(lenient[:2] == (404, "404") and lenient[2] is None,
          f"the emulator alone answered a second succeed {lenient}: update serve.py's list of what it forgives")
    after = emu.counts()
    sent = {k: after.get(k, 0) - before.get(k, 0) for k in ("succeed", "fail", "heartbeat")}
    check(sent == {"succeed": 3, "fail": 1, "heartbeat": 1}, f"counted on the wire: {sent}")
    return (f"blocked, succeed → SUCCEEDED with the result; a second succeed: {second[0]} {second[1]} "
            f"(x-amzn-ErrorType {second[2]}); heartbeat and failure of the closed callback: {beat[1]}, {fail[1]}; "
            f"the emulator alone answers a second succeed {lenient[0]} {lenient[1]} (x-amzn-ErrorType "
            f"{lenient[2]}); counted {sent}")


def e2(emu):
    arn = emu.start("probe", {"timeoutSeconds": 1})
    callback_id = emu.callback(arn)
    described = emu.ended(arn)
    error = described.get("Error", {})
    check(described["Status"] == "FAILED" and "CallbackTimeoutError" in (error.get("ErrorType") or ""),
          f"the probe ended {described['Status']} {error}")
    late = emu.refused(lambda: emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"{}"))
    check(late == (400, "CallbackTimeoutException", "CallbackTimeoutException"), f"a succeed after the timeout: {late}")
    arn = emu.start("probe", {})
    callback_id = emu.callback(arn)
    big = emu.refused(lambda: emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"x" * 262145))
    malformed = emu.refused(lambda: emu.lam.send_durable_execution_callback_success(CallbackId="not-base64!", Result=b"{}"))
    check(big[:2] == malformed[:2] == (400, "InvalidParameterValueException"), f"oversized {big}, malformed {malformed}")
    emu.lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"x" * 262144)
    check(emu.ended(arn)["Status"] == "SUCCEEDED", "a Result of exactly 256 KB was not taken")
    return (f"timeout 1 s: FAILED {error.get('ErrorType')}; a succeed then: {late[0]} {late[1]}; a Result of "
            f"262,145 bytes: {big[0]} {big[1]} (262,144 taken); a malformed id: {malformed[0]} {malformed[1]}")


def e3(emu):
    arn = emu.start("probe", {})
    callback_id = emu.callback(arn)
    emu.lam.send_durable_execution_callback_failure(
        CallbackId=callback_id, Error={"ErrorType": "InterventionCancelled", "ErrorMessage": "cancelled by an operator"})
    described = emu.ended(arn)
    check(described["Status"] == "FAILED", f"the probe ended {described['Status']}")
    history = emu.lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    failed = [e["CallbackFailedDetails"]["Error"]["Payload"] for e in history if "CallbackFailedDetails" in e]
    check(failed and failed[0].get("ErrorType") == "InterventionCancelled", f"the callback's failure: {failed}")
    return f"FAILED; the callback's failure in the history: {failed[0].get('ErrorType')}"


def run(url):
    emu = Emulator(url)
    ok = True
    for name, step in (("E1 block, succeed, a second succeed", e1), ("E2 timeouts and limits", e2),
                       ("E3 a failure's error type", e3)):
        started = time.monotonic()
        try:
            detail = step(emu)
            print(f"PASS [{name}] ({time.monotonic() - started:.1f}s): {detail}", flush=True)
        except Exception as error:  # noqa: BLE001 - one FAIL line each
            print(f"FAIL [{name}] ({time.monotonic() - started:.1f}s): {type(error).__name__}: {error}", flush=True)
            ok = False
    return ok


def main():
    if len(sys.argv) > 1:
        sys.exit(0 if run(sys.argv[1]) else 1)
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py")], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        check(url.startswith("http://"), f"serve.py printed {url!r}")
        ok = run(url)
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

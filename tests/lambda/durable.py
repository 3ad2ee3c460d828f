"""The durable-function steps of tests/lambda/flow.py: real durable executions in the emulator
(tests/durable/serve.py, one process for all D steps, started by flow.sh as DURABLE_ENDPOINT), whose
create-link invocations reach the real create-link binary under `cargo lambda watch` through moto's bridge
(tests/moto/serve.py), and the real publisher and cancel under watch delivering to them with
AWS_ENDPOINT_URL_LAMBDA = the emulator.

    D0  the emulator itself through boto3 (tests/durable/check.py: block → succeed → completes; a second
        succeed → CallbackTimeoutException, where the emulator alone answers a bare 404; limits; a failure's
        error type)
    D0x the example's branches in the emulator's in-process runner, create-link stubbed (tests/durable/example.py:
        approve, reject, timedOut, the callback's timeout, a cancel, a creation retried and refused)
    D1  the example (infra/examples/durable_approval.py) paused; approved on the page; the publisher on the
        stream record delivers: the execution completes with the decision (RefundApproved); exactly one
        SendDurableExecutionCallbackSuccess on the wire, still one after a second publish and a sweep;
        the creation replayed with the same key: the same intervention, nothing written
    D2  a callback that timed out (wait.timeoutSeconds 4): the execution FAILED in NoDecision; the reviewer's
        answer, published: the one succeed answered CallbackTimeoutException → the record's task is gone
        and the link answers 410 Link has expired
    D3  a decision recorded before the callback id arrives: delivered on arrival, by the attach itself (one
        succeed), nothing more from a second publish
    D4  an operator's cancel ({"interventionId", "by", "reason"}): the execution FAILED at once with
        InterventionCancelled; one SendDurableExecutionCallbackFailure; the link 410
    D6  an operator's extension (the records function, IAM caller): the callback heartbeated, still waiting after
        the old expiry; the old link 410; the new link, emailed by the product, decides; one succeed
    D5  the callback ids: in no record route answer and no execution output (flow step 15: in no log line)

Each waits with a deadline (no timed assertion). The callback ids are read from the executions' histories,
as a client of the durable execution API reads them, and are never printed.
"""

import datetime
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request

import boto3
import botocore.config
from aws_durable_execution_sdk_python.serdes import deserialize

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXAMPLE_INPUT = os.path.join(ROOT, "infra", "statemachine", "refund-approval.example-input.json")
CHECK = os.path.join(ROOT, "tests", "durable", "check.py")
NO_DECISION = "durable_approval.NoDecision"
CANCELLED = "durable_approval.InterventionCancelled"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Durable:
    """The D steps, on a flow.Flow and its sfn.Sfn (their helpers: view and submit, publish, sweep, records)."""

    def __init__(self, flow, machine, client, check, invoke, url):
        self.flow, self.machine, self.client, self.check, self.invoke = flow, machine, client, check, invoke
        self.url = url.rstrip("/")
        self.lam = boto3.client("lambda", endpoint_url=self.url, region_name=machine.region,
                                aws_access_key_id="testing", aws_secret_access_key="testing",
                                config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60))
        self.example = load("durable_approval_test", os.path.join(ROOT, "infra", "examples", "durable_approval.py"))
        self.emulator = load("durable_check", CHECK)
        self.callback_ids = []  # secrets: flow step 15 looks for them in every line the functions printed
        self.executions = []
        self.state = {}

    # ------------------------------------------------------------------------------------------ helpers
    def harness(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def wire(self):
        return self.harness("GET", "/__calls")

    def sent(self, before, kind):
        return self.wire()["counts"].get(kind, 0) - before["counts"].get(kind, 0)

    def answers(self, before, kind):
        now = self.wire()["answers"]
        return {k: n - before["answers"].get(k, 0) for k, n in now.items()
                if k.startswith(kind + " ") and n - before["answers"].get(k, 0)}

    def input(self, **extra):
        with open(EXAMPLE_INPUT) as f:
            payload = json.load(f)
        payload.pop("approverEmail")
        payload["notify"] = {"email": ["approver@example.com"]}
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
        payload["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        payload["customer"]["email"] = f"flow-secret-{secrets.token_hex(8)}@example.com"
        self.flow.secrets.append(("customer.email (durable execution input)", payload["customer"]["email"]))
        payload.update(extra)
        return payload

    def start(self, function, payload):
        arn = self.harness("POST", "/__start", {"function": function, "input": payload})["executionArn"]
        self.executions.append(arn)
        return arn

    def history(self, arn):
        events = self.lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]
        for event in events:
            started = event.get("CallbackStartedDetails")
            if started and started.get("CallbackId") and started["CallbackId"] not in self.callback_ids:
                self.callback_ids.append(started["CallbackId"])
        return events

    def wait(self, what, predicate, seconds=300):
        deadline = time.monotonic() + seconds
        while True:
            value = predicate()
            if value:
                return value
            self.check(time.monotonic() < deadline, f"{what}: not within {seconds}s")
            time.sleep(0.25)

    def described(self, arn):
        return self.lam.get_durable_execution(DurableExecutionArn=arn)

    def ended(self, arn, seconds=120):
        def done():
            described = self.described(arn)
            return described if described["Status"] != "RUNNING" else None
        return self.wait("the durable execution to end", done, seconds)

    def paused(self, arn, seconds=600):
        """Waits until the example waits on its callback (the attach step done); returns (intervention id,
        expiresAt)."""
        def attached():
            described = self.described(arn)
            events = self.history(arn)
            done = {e.get("Name") for e in events if e["EventType"] == "StepSucceeded"}
            if "decision submitter" in done:
                return events
            self.check(described["Status"] == "RUNNING",
                       f"the execution ended {described['Status']} before it paused: {described.get('Error')}")
            return None
        events = self.wait("the execution to wait on its callback", attached, seconds)
        # The SDK's checkpoint encoding (its serdes envelope), read with the SDK's own reader.
        created = [deserialize(None, e["StepSucceededDetails"]["Result"]["Payload"], e["Id"], arn) for e in events
                   if e["EventType"] == "StepSucceeded" and e.get("Name") == "create approval link"]
        self.check(len(created) == 1, f"{len(created)} creation steps succeeded")
        self.check(set(created[0]) == {"interventionId", "expiresAt"}, f"the creation step kept {sorted(created[0])}")
        self.check(self.callback_ids, "no callback id in the history")
        return created[0]["interventionId"]

    def link(self, arn, payload, intervention_id):
        """The link, as the product sent it to the reviewer: create-link again with the creation's own input
        (its idempotency key from the execution): the first creation's answer, nothing written."""
        count = self.flow.item_count()
        creation = self.example.creation_input(payload, arn)
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("durable-creation.json", creation))
        self.check(rc == 0, f"create-link (the creation again) exited {rc}: {err.strip()[-400:]}")
        again = json.loads(out)
        self.check(again["interventionId"] == intervention_id, f"the creation again answered {again['interventionId']}")
        self.check(self.flow.item_count() == count, f"the creation again wrote {self.flow.item_count() - count} items")
        link = again["context"]["approval.url"]
        self.flow.tokens.append(link.rsplit("/i/", 1)[1])
        return link

    def record_task(self, intervention_id):
        status, record = self.machine.record(intervention_id)
        self.check(status == 200, f"the record route answered {status}")
        return record, record.get("task")

    # ------------------------------------------------------------------------------------------ D0
    def emulator_check(self):
        emu = self.emulator.Emulator(self.url)
        details = []
        for step in (self.emulator.e1, self.emulator.e2, self.emulator.e3):
            details.append(step(emu))
        return " | ".join(details)

    def example_branches(self):
        done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "durable", "example.py")],
                              capture_output=True, text=True, timeout=300)
        lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
        self.check(done.returncode == 0 and lines and all(line.startswith("PASS") for line in lines),
                   "\n  ".join(lines) or done.stderr[-600:])
        return " | ".join(line.split(": ", 1)[-1] for line in lines)

    # ------------------------------------------------------------------------------------------ D1
    def approved(self):
        before = self.wire()
        payload = self.input()
        arn = self.start("durable-approval", payload)
        intervention_id = self.paused(arn)
        self.state["approved_id"] = intervention_id
        link = self.link(arn, payload, intervention_id)
        self.check(self.described(arn)["Status"] == "RUNNING", "the execution did not wait")
        submission_id = self.machine.view_and_submit(link, "approve", f"{self.flow.marker}-durable")
        self.machine.publish(intervention_id, f"S#{submission_id}", "durable-approved-event")
        described = self.ended(arn)
        self.check(described["Status"] == "SUCCEEDED", f"the execution ended {described['Status']}: {described.get('Error')}")
        output = json.loads(described["Result"])
        decision = output.get("decision", {})
        self.check(output.get("status") == "RefundApproved" and decision.get("outcome") == "submitted"
                   and decision.get("context", {}).get("decision") == "approve"
                   and decision.get("interventionId") == intervention_id and decision.get("submissionId") == submission_id,
                   f"the execution's output: {json.dumps(output)[:400]}")
        once = self.sent(before, "succeed")
        self.machine.flow.publish("durable-approved-event")
        self.machine.sweep()
        twice = self.sent(before, "succeed")
        self.check(once == twice == 1, f"SendDurableExecutionCallbackSuccess on the wire: {once} after the delivery, "
                                       f"{twice} after a second publish and a sweep")
        self.check(self.sent(before, "fail") == 0, "a callback failure was sent")
        beats = self.answers(before, "heartbeat")
        self.check(beats == {"heartbeat 200": 1}, f"the attach's proof: {beats}")
        _, task = self.record_task(intervention_id)
        return (f"paused after the creation step and the attach (its proof: {beats}); approved on the page; the publisher delivered: "
                f"SUCCEEDED {output['status']} with the continuation {decision.get('id')}; "
                f"SendDurableExecutionCallbackSuccess on the wire: {once}, still {twice} after a second publish and "
                f"a sweep ({self.answers(before, 'succeed')}); the creation again with its key: the same "
                f"intervention, nothing written; the record's task {json.dumps(task)}")

    # ------------------------------------------------------------------------------------------ D2
    def callback_timed_out(self):
        before = self.wire()
        payload = self.input(wait={"timeoutSeconds": 4, "heartbeatSeconds": 3600})
        arn = self.start("durable-approval", payload)
        intervention_id = self.paused(arn)
        self.state["timed_out_id"] = intervention_id
        link = self.link(arn, payload, intervention_id)
        described = self.ended(arn, seconds=60)
        error = described.get("Error") or {}
        self.check(described["Status"] == "FAILED" and error.get("ErrorType") == NO_DECISION,
                   f"the execution ended {described['Status']} {error}")
        submission_id = self.machine.view_and_submit(link, "approve", f"{self.flow.marker}-durable-late")
        self.machine.publish(intervention_id, f"S#{submission_id}", "durable-late-event")
        answered = self.answers(before, "succeed")
        self.check(answered == {"succeed 400 CallbackTimeoutException": 1},
                   f"SendDurableExecutionCallbackSuccess answered {answered}")
        _, task = self.record_task(intervention_id)
        self.check(isinstance(task, dict) and task.get("state") == "gone" and task.get("reason") == "CallbackTimeoutException",
                   f"the record's task: {task}")
        self.machine.expect_expired(link)
        self.machine.flow.publish("durable-late-event")
        self.machine.sweep()
        self.check(self.sent(before, "succeed") == 1, f"{self.sent(before, 'succeed')} succeed calls: retried")
        return (f"the callback timed out (4 s): FAILED {NO_DECISION}; the reviewer's answer published: "
                f"{answered}; the record's task {json.dumps(task)}; the link: 410 Link has expired; no retry "
                f"after a second publish and a sweep")

    # ------------------------------------------------------------------------------------------ D3
    def decided_before_attach(self):
        before = self.wire()
        creation = self.flow.creation_input(correlationId=f"durable-early-{secrets.token_hex(4)}")
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("durable-early.json", creation))
        self.check(rc == 0, f"create-link exited {rc}: {err.strip()[-400:]}")
        created = json.loads(out)
        intervention_id, link = created["interventionId"], created["context"][creation["generatedUrlContextKey"]]
        self.flow.tokens.append(link.rsplit("/i/", 1)[1])
        self.state["early_id"] = intervention_id
        submission_id = self.machine.view_and_submit(link, "approve", f"{self.flow.marker}-durable-early")
        self.machine.publish(intervention_id, f"S#{submission_id}", "durable-early-event")
        self.check(self.sent(before, "succeed") == 0, "a succeed before any callback was attached")
        arn = self.start("attach", {"interventionId": intervention_id})
        described = self.ended(arn, seconds=300)
        self.history(arn)
        self.check(described["Status"] == "SUCCEEDED", f"the execution ended {described['Status']}: {described.get('Error')}")
        decision = json.loads(described["Result"])["decision"]
        self.check(decision.get("outcome") == "submitted" and decision.get("submissionId") == submission_id,
                   f"the execution's output: {json.dumps(decision)[:300]}")
        self.machine.flow.publish("durable-early-event")
        self.machine.sweep()
        sent = self.sent(before, "succeed")
        self.check(sent == 1, f"{sent} SendDurableExecutionCallbackSuccess")
        return (f"submitted and published with no callback attached (nothing sent); the durable execution's "
                f"attach (wait_for_callback's submitter) got it at once: SUCCEEDED with continuation "
                f"{decision.get('id')}; {sent} succeed in all, after a second publish and a sweep")

    # ------------------------------------------------------------------------------------------ D4
    def operator_cancelled(self):
        before = self.wire()
        payload = self.input()
        arn = self.start("durable-approval", payload)
        intervention_id = self.paused(arn)
        self.state["cancelled_id"] = intervention_id
        link = self.link(arn, payload, intervention_id)
        request = {"interventionId": intervention_id, "by": "ops@example.com", "reason": "sent to the wrong person"}
        rc, out, err = self.invoke(self.flow.port, "cancel", self.flow.file("durable-cancel.json", request))
        self.check(rc == 0, f"cargo lambda invoke cancel exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        self.check(answer.get("cancelled") == [intervention_id], f"cancel answered {out}")
        described = self.ended(arn, seconds=30)
        error = described.get("Error") or {}
        self.check(described["Status"] == "FAILED" and error.get("ErrorType") == CANCELLED,
                   f"the execution ended {described['Status']} {error}")
        failures = self.answers(before, "fail")
        self.check(failures == {"fail 200": 1} and self.sent(before, "succeed") == 0,
                   f"callback failures {failures}, successes {self.sent(before, 'succeed')}")
        self.machine.expect_expired(link)
        _, task = self.record_task(intervention_id)
        self.check(isinstance(task, dict) and task.get("state") == "gone" and task.get("reason") == "InterventionCancelled",
                   f"the record's task: {task}")
        return (f"cancel answered {json.dumps(answer)}; the execution FAILED at once with {error.get('ErrorType')} "
                f"(its callback had 24 h 20 min left); SendDurableExecutionCallbackFailure {failures}; the link 410; "
                f"the record's task {json.dumps(task)}")

    # ------------------------------------------------------------------------------------------ D6
    def extended(self):
        """An operator's extension of a waiting durable execution's intervention: the callback heartbeated, the
        execution still waiting after the old expiry; the old link 410, the new one decides; one succeed."""
        before = self.wire()
        to = f"approver-{secrets.token_hex(4)}@example.com"
        payload = self.input(urlExpirationHours=0.003, notify={"email": [to]},
                             wait={"timeoutSeconds": 900, "heartbeatSeconds": 600})
        arn = self.start("durable-approval", payload)
        intervention_id = self.paused(arn)
        old_link = self.link(arn, payload, intervention_id)
        detail = self.machine.extend_waiting(intervention_id, old_link, to,
                                             lambda: self.described(arn)["Status"] == "RUNNING")
        beats = self.answers(before, "heartbeat")
        self.check(beats == {"heartbeat 200": 2}, f"heartbeats (the attach's proof, the extension's): {beats}")
        submission_id = self.machine.view_and_submit(detail["new_link"], "approve", f"{self.flow.marker}-extended")
        self.machine.publish(intervention_id, f"S#{submission_id}", "durable-extended-event")
        described = self.ended(arn)
        self.check(described["Status"] == "SUCCEEDED", f"the execution ended {described['Status']}: {described.get('Error')}")
        output = json.loads(described["Result"])
        self.check(output.get("decision", {}).get("submissionId") == submission_id, f"the output: {str(output)[:300]}")
        self.machine.sweep()
        once = self.sent(before, "succeed")
        self.check(once == 1, f"SendDurableExecutionCallbackSuccess on the wire: {once}")
        return (f"extend answered {detail['answer']}; heartbeats {beats}; {detail['waited']}; SUCCEEDED "
                f"{output.get('status')} with the new link's submission; succeed on the wire: {once}; actions "
                f"{detail['actions']}")

    # ------------------------------------------------------------------------------------------ D5
    def callback_ids_nowhere(self):
        self.check(self.callback_ids, "no callback id was seen")
        found = []
        for key in ("approved_id", "timed_out_id", "early_id", "cancelled_id"):
            if key in self.state:
                _, record = self.machine.record(self.state[key])
                text = json.dumps(record)
                found += [f"record of {self.state[key]}" for c in self.callback_ids if c in text]
        for arn in self.executions:
            output = json.dumps(self.described(arn).get("Result") or "")
            found += [f"output of {arn.rsplit('/', 1)[-1]}" for c in self.callback_ids if c in output]
        self.check(not found, f"a callback id in: {found}")
        return (f"none of the {len(self.callback_ids)} callback ids in the record route's answers nor in "
                f"{len(self.executions)} durable executions' outputs (step 15 looks for them in every log line)")

"""The durable example's branches (infra/examples/durable_approval.py), in the emulator's in-process runner, with
create-link stubbed (tests/lambda/durable.py runs it against the real one): run by tests/lambda/durable.py as
step D0 and on its own (`python tests/durable/example.py`; PASS/FAIL lines, exit 1 on a failure).

  X1 approve / reject / timedOut continuations → RefundApproved / RefundRejected / TimedOut, the continuation as
     the output; create-link's input: notify, the idempotency key from the execution's ARN, no link kept in
     the creation step's checkpoint; the attach is exactly {interventionId, callbackId}
  X2 the callback times out → FAILED durable_approval.NoDecision; a failure with error type
     InterventionCancelled → FAILED durable_approval.InterventionCancelled; another failure type → not
     taken for a cancel
  X3 create-link unavailable once (InterventionStoreUnavailable) → retried with the same idempotency key, one
     creation; refused (InvalidInterventionConfig) → FAILED, not retried
"""

import hashlib
import importlib.util
import json
import os
import queue
import sys
import time

from aws_durable_execution_sdk_python.lambda_service import ErrorObject, OperationType
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
INPUT = os.path.join(ROOT, "infra", "statemachine", "refund-approval.example-input.json")


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def load():
    spec = importlib.util.spec_from_file_location("durable_approval", os.path.join(ROOT, "infra", "examples", "durable_approval.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["durable_approval"] = module
    spec.loader.exec_module(module)
    return module


example = load()


class CreateLink:
    """create-link stubbed: answers creations (scripted errors first), records attaches' callback ids."""

    def __init__(self, errors=()):
        self.errors = list(errors)
        self.creations, self.attaches = [], queue.Queue()

    def __call__(self, payload):
        if "callbackId" in payload:
            check(set(payload) == {"interventionId", "callbackId"}, f"the attach sent {sorted(payload)}")
            self.attaches.put(payload)
            return {"interventionId": payload["interventionId"], "task": "waiting"}
        self.creations.append(payload)
        if self.errors:
            raise self.errors.pop(0)
        return {"interventionId": "AAAAAAAAAAAAAAAAAAAAAA", "expiresAt": "2030-01-01T00:00:00Z",
                "context": {**payload["context"], "approval.url": "https://example.com/i/secret-link"}}


def event(**extra):
    with open(INPUT) as f:
        payload = json.load(f)
    payload.pop("approverEmail")
    payload["notify"] = {"email": ["approver@example.com"]}
    payload.update(extra)
    return payload


def run(stub, answer, payload=None):
    """Runs the example to its end; `answer(runner, callback_id)` answers its callback (or None: no answer)."""
    example.create_link = stub
    with DurableFunctionTestRunner(handler=example.handler) as runner:
        arn = runner.run_async(input=json.dumps(payload or event()), function_name="durable-approval", execution_timeout=60)
        if answer:
            attach = stub.attaches.get(timeout=30)
            answer(runner, attach["callbackId"])
        result = runner.wait_for_result(arn, timeout=60)
        return arn, result


def continuation(outcome, decision=None):
    message = {"version": 1, "id": "c-1", "outcome": outcome, "interventionId": "AAAAAAAAAAAAAAAAAAAAAA",
               "context": {"order.id": "A-1001"}}
    if decision:
        message["context"]["decision"] = decision
        message["submissionId"] = "s-1"
    return json.dumps(message).encode()


def x1():
    seen = []
    for outcome, decision, status in (("submitted", "approve", "RefundApproved"), ("submitted", "reject", "RefundRejected"),
                                      ("timedOut", "reject", "TimedOut")):
        stub = CreateLink()
        arn, result = run(stub, lambda r, c: r.send_callback_success(c, continuation(outcome, decision)))
        output = json.loads(result.result)
        check(output["status"] == status and output["decision"]["outcome"] == outcome,
              f"{outcome}/{decision}: {result.status} {output}")
        created = stub.creations[0]
        key = "durable/" + hashlib.sha256(arn.encode()).hexdigest() + "/create-link"
        check(len(stub.creations) == 1 and created["idempotencyKey"] == key and created["notify"]
              and "approverEmail" not in created and created["correlationId"] == arn, f"create-link's input {created}")
        step = [o for o in result.operations if o.operation_type is OperationType.STEP and o.name == "create approval link"]
        check(len(step) == 1 and "secret-link" not in json.dumps(step[0].result), f"the creation step kept {step[0].result}")
        seen.append(status)
    return f"{', '.join(seen)}; one creation each, its key from the execution's ARN, the link not in the checkpoint"


def x2():
    stub = CreateLink()
    _, timed_out = run(stub, None, event(wait={"timeoutSeconds": 1}))
    stub = CreateLink()
    _, cancelled = run(stub, lambda r, c: r.send_callback_failure(c, ErrorObject(
        message="The intervention was cancelled by an operator.", type="InterventionCancelled", data=None, stack_trace=None)))
    stub = CreateLink()
    _, other = run(stub, lambda r, c: r.send_callback_failure(c, ErrorObject(
        message="something else", type="SomethingElse", data=None, stack_trace=None)))
    kinds = [r.error.type if r.error else None for r in (timed_out, cancelled, other)]
    check(kinds[:2] == ["durable_approval.NoDecision", "durable_approval.InterventionCancelled"]
          and kinds[2] and "InterventionCancelled" not in kinds[2], f"errors {kinds}")
    return f"timeout → {kinds[0]}; InterventionCancelled → {kinds[1]}; another failure → {kinds[2]}"


def x3():
    stub = CreateLink([example.InterventionUnavailable("InterventionStoreUnavailable: throttled")])
    _, result = run(stub, lambda r, c: r.send_callback_success(c, continuation("submitted", "approve")))
    keys = {c["idempotencyKey"] for c in stub.creations}
    check(len(stub.creations) == 2 and len(keys) == 1 and json.loads(result.result)["status"] == "RefundApproved",
          f"{len(stub.creations)} creations, {len(keys)} keys, {result.status}")
    stub = CreateLink([example.InterventionRefused("InvalidInterventionConfig: tier: unknown")])
    _, refused = run(stub, None)
    check(len(stub.creations) == 1 and refused.error and refused.error.type == "durable_approval.InterventionRefused"
          and refused.error.message.startswith("InvalidInterventionConfig"),
          f"{len(stub.creations)} creations, error {refused.error}")
    return (f"unavailable once: 2 creations, 1 key, RefundApproved; refused: 1 creation, FAILED "
            f"{refused.error.type}")


def main():
    ok = True
    for name, step in (("X1 the decisions", x1), ("X2 timeout and cancel", x2), ("X3 creation retried, refused", x3)):
        started = time.monotonic()
        try:
            detail = step()
            print(f"PASS [{name}] ({time.monotonic() - started:.1f}s): {detail}", flush=True)
        except Exception as error:  # noqa: BLE001 - one FAIL line each
            print(f"FAIL [{name}] ({time.monotonic() - started:.1f}s): {type(error).__name__}: {error}", flush=True)
            ok = False
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

"""Example: a Lambda durable function that waits for a Human Intervention decision in the same execution.

The durable twin of infra/statemachine/refund-approval-waiting.asl.json: a refund waits for an approver and
goes on with the reviewer's decision, with no state machine.

1. A durable step creates the approval link by invoking the create-link function (the same input as the
   Step Functions example's CreateApprovalLink, docs/interfaces.md "Link creation"), with an
   `idempotencyKey` derived from this durable execution's ARN: a replay or a retry of the step (its
   checkpoint lost, the invoke's answer lost) gets the same intervention, link and expiry back, and never a
   second intervention or timer. The input's `notify` makes the product itself deliver the link to the
   reviewer (docs/interfaces.md "Reaching the reviewer"), so the link, a credential, never enters this
   execution's checkpoints: the step keeps only the intervention's id and expiry.
2. It waits for a durable callback (wait_for_callback, written out); its submitter step invokes create-link with exactly
   `{"interventionId", "callbackId"}` (the attach, like the Step Functions task's `{"interventionId",
   "taskToken"}`). create-link proves the callback id with one SendDurableExecutionCallbackHeartbeat and,
   if the reviewer answered already, delivers that answer at once. Otherwise the publisher delivers the
   intervention's first continuation with SendDurableExecutionCallbackSuccess, exactly once.
   The callback's timeout follows the link's life: its heartbeat timeout is the link's lifetime + 15 min
   (the timeout continuation comes up to a minute after expiry, a minute or three more when Scheduler fires
   early, and the publisher's sweep takes up to 10 min), its timeout 5 min more (the Step Functions
   example's HeartbeatSeconds and TimeoutSeconds). Only the attach heartbeats, so the heartbeat timeout is
   the one that binds. `wait` in the input may shorten both (tests do).
3. It branches on the outcome: the continuation's `outcome` (`submitted` with `context.decision` approve or
   reject, or `timedOut` with the input's onTimeout defaults) ends the execution with a status and the
   continuation; a callback that timed out ends it FAILED in NoDecision; an operator's cancel
   (SendDurableExecutionCallbackFailure, error type `InterventionCancelled`) ends it FAILED in
   InterventionCancelled at once. Error types on the wire are the exceptions' qualified names, e.g.
   `durable_approval.InterventionCancelled`.

Why Python: the official durable execution SDK for Python (`aws-durable-execution-sdk-python`) comes with a
local testing emulator (`aws-durable-execution-sdk-python-testing`: the durable execution HTTP API,
callbacks included, served on loopback, with no Docker), which tests/durable/serve.py runs so that the
product's real publisher and create-link deliver to a real waiting execution in `make lambda-test`. The
official Rust crate (aws-durable-execution-sdk 0.1.0 on crates.io, a `test-util` feature for its own unit
tests) publishes no emulator of the durable execution HTTP API that the product's binaries could answer
(the in-process runners of third-party crates such as durable-execution-sdk-testing, an alpha, replace the
API rather than serve it); and Lambda's managed Python runtimes (3.13+) ship the SDK, so this example
deploys as one file.

Deployed by infra/template.yaml as DurableApprovalFunction (DurableConfig; its role may invoke create-link
and checkpoint its own executions, nothing else). Environment: CREATE_LINK_FUNCTION (create-link's name or
ARN). Input: infra/statemachine/refund-approval.example-input.json's fields, with `notify` (e.g.
`{"email": ["approver@example.com"]}`) in place of `approverEmail`, and optionally `wait`
(`{"timeoutSeconds": n, "heartbeatSeconds": n}`).
"""

from __future__ import annotations

import hashlib
import json
import os

import boto3
import botocore.exceptions
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig
from aws_durable_execution_sdk_python.context import DurableContext, StepContext
from aws_durable_execution_sdk_python.exceptions import CallbackExternalError, CallbackTimeoutError, StepError
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

# The link's life: the Step Functions example's urlExpirationHours.
LINK_HOURS = 24
# After the link's expiry: the timeout continuation's delay (Scheduler, its early-firing retries, the sweep).
HEARTBEAT_MARGIN_SECONDS = 15 * 60
TIMEOUT_MARGIN_SECONDS = 20 * 60

_lambda = None


def lambda_client():
    global _lambda
    if _lambda is None:
        _lambda = boto3.client("lambda")
    return _lambda


class InterventionUnavailable(Exception):
    """create-link or Lambda failed in a way worth retrying (the step retries it, with the same key)."""


class InterventionRefused(Exception):
    """create-link refused the creation or the attach (InvalidInterventionConfig, IdempotencyKeyReused,
    InterventionNotFound, DecisionAlreadyDelivered, ...; the message starts with its errorType): not retried.
    Also what the execution fails with when a step still fails after its retries."""


class NoDecision(Exception):
    """The callback timed out: no continuation reached this execution in time."""


class InterventionCancelled(Exception):
    """An operator cancelled the intervention: no decision will come."""


class UnknownDecision(Exception):
    """The continuation carries no decision this workflow knows."""


# create-link's errors worth another attempt (docs/interfaces.md): the rest are final.
RETRYABLE = {"InterventionStoreUnavailable", "TimeoutSchedulerUnavailable"}


def create_link(payload):
    """Invokes create-link; its answer, or InterventionRefused / InterventionUnavailable."""
    try:
        answer = lambda_client().invoke(FunctionName=os.environ["CREATE_LINK_FUNCTION"],
                                        Payload=json.dumps(payload).encode())
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise InterventionUnavailable(f"Lambda Invoke of create-link: {error}") from None
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        error_type = body.get("errorType", "Unhandled") if isinstance(body, dict) else "Unhandled"
        message = f"{error_type}: {body.get('errorMessage', '') if isinstance(body, dict) else body}"
        raise (InterventionUnavailable if error_type in RETRYABLE else InterventionRefused)(message)
    return body


def creation_input(event, execution_arn):
    """create-link's input for this execution: the same for every replay and retry of the step."""
    # One creation per execution: a key from its ARN (up to 1,024 characters; a key is at most 512).
    key = "durable/" + hashlib.sha256(execution_arn.encode()).hexdigest() + "/create-link"
    payload = {
        "environmentId": event["environmentId"],
        "tier": event["tier"],
        "idempotencyKey": key,
        "runAvailableUntil": event["runAvailableUntil"],
        "ruleSetId": "refund-continue",
        "urlExpirationHours": event.get("urlExpirationHours", LINK_HOURS),
        "maxUrlUses": 1,
        "generatedUrlContextKey": "approval.url",
        "notify": event["notify"],
        "formDocument": {
            "title": "Approve refund",
            "prompt": "A customer asked for a refund. Approve it, change the amount, or reject it.",
            "show": ["order.id", "order.amount"],
            "fields": [
                {"key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"],
                 "required": True},
                {"key": "refund.amount", "label": "Amount", "type": "decimal", "min": 0, "max": 1000,
                 "prefill": "order.amount"},
                {"key": "note", "label": "Note", "type": "text", "multiline": True, "maxLength": 500},
            ],
        },
        "context": {
            "order.id": event["order"]["id"],
            "order.amount": event["order"]["amount"],
            "customer.email": event["customer"]["email"],
        },
        "secretKeys": ["customer.email"],
        "onTimeout": event.get("onTimeout", {"ruleSetId": "refund-timeout", "context": {"decision": "reject"}}),
    }
    # The cancel rule's correlation id is a Step Functions execution's ARN; a durable execution's is kept
    # when it fits (correlationId: up to 256 characters).
    if len(execution_arn) <= 256:
        payload["correlationId"] = execution_arn
    return payload


def callback_config(event):
    """The callback's timeouts, from the link's life (see the module's docstring)."""
    lifetime = int(float(event.get("urlExpirationHours", LINK_HOURS)) * 3600)
    wait = event.get("wait", {})
    heartbeat = int(wait.get("heartbeatSeconds", lifetime + HEARTBEAT_MARGIN_SECONDS))
    timeout = int(wait.get("timeoutSeconds", lifetime + TIMEOUT_MARGIN_SECONDS))
    return CallbackConfig(timeout=Duration(seconds=timeout), heartbeat_timeout=Duration(seconds=heartbeat))


def retried():
    """A step's retries: 3 attempts for what is worth retrying (the same idempotency key each time)."""
    return StepConfig(retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, retryable_error_types=[InterventionUnavailable])))


@durable_execution
def handler(event, context: DurableContext):
    execution_arn = context.execution_context.durable_execution_arn
    payload = creation_input(event, execution_arn)

    def create(_: StepContext):
        created = create_link(payload)
        # The link is a credential: the product sends it (notify); the checkpoint keeps the id and expiry.
        return {"interventionId": created["interventionId"], "expiresAt": created["expiresAt"]}

    try:
        intervention = context.step(create, name="create approval link", config=retried())
    except StepError as error:  # refused, or still unavailable after the retries: the execution fails with it
        raise InterventionRefused(error.message) from None

    # wait_for_callback, written out (it is create_callback, a submitter step and the callback's result) so
    # that a failure's error type, which the SDK keeps on the callback operation and not on its
    # CallbackExternalError, can be read.
    callback = context.create_callback(name="decision", config=callback_config(event))

    def attach(_: StepContext):
        # Exactly {interventionId, callbackId}: the attach. Its answer ("waiting" or "delivered") is for logs.
        create_link({"interventionId": intervention["interventionId"], "callbackId": callback.callback_id})

    try:
        context.step(attach, name="decision submitter", config=retried())
    except StepError as error:  # e.g. DecisionAlreadyDelivered, the callback refused: no decision will come
        raise InterventionRefused(error.message) from None
    try:
        result = callback.result()
    except CallbackTimeoutError:
        raise NoDecision("The approval link expired and no continuation reached this execution in time.") from None
    except CallbackExternalError as error:
        failure = context.state.get_checkpoint_result(callback.operation_id, claim_end_hook=False).error
        if failure is not None and failure.type == "InterventionCancelled":
            raise InterventionCancelled(error.message or "The intervention was cancelled by an operator.") from None
        raise

    decision = json.loads(result) if isinstance(result, (str, bytes)) else result
    outcome = decision.get("outcome")
    chosen = (decision.get("context") or {}).get("decision")
    if outcome == "timedOut":
        status = "TimedOut"
    elif outcome == "submitted" and chosen == "approve":
        status = "RefundApproved"
    elif outcome == "submitted" and chosen == "reject":
        status = "RefundRejected"
    else:
        raise UnknownDecision(f"Continuation {decision.get('id')} carries no known decision.")
    # The continuation (the reviewer's input, never the link) goes on with the execution.
    return {"status": status, "decision": decision}

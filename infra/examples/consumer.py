"""Example consumer of continuation messages (boto3): resumes paused runs when reviewers answer, or
when their links expire unanswered.

    QUEUE_URL=<the stack's ContinuationQueueUrl output> python consumer.py

Its role needs the stack's ContinuationConsumerPolicyArn. A message body (version 1) is one of:

- "submitted", the reviewer answered:
  {"version": 1, "id": "<interventionId>:<submissionId>", "outcome": "submitted", "environmentId": ...,
   "correlationId": ..., "ruleSetId": "refund-continue", "interventionId": ..., "submissionId": ...,
   "submittedAt": ..., "countsAgainstAllowance": false,
   "context": {"order.id": "A-1001", "decision": "approve", ...}}
  ruleSetId is the link's ruleSetId; context is the run's context merged with the form input (the input
  wins). With maxUrlUses > 1 there is one such message per accepted submission.
- "timedOut", the link expired and nobody had answered (only for a link created with onTimeout):
  {"version": 1, "id": "<interventionId>:timeout", "outcome": "timedOut", "environmentId": ...,
   "correlationId": ..., "ruleSetId": "refund-timeout", "interventionId": ...,
   "countsAgainstAllowance": false, "context": {"order.id": "A-1001", "decision": "reject", ...}}
  ruleSetId is onTimeout.ruleSetId; context is the run's context merged with onTimeout.context (the
  defaults win); there is no submissionId or submittedAt. It is queued at most once, within about a
  minute of expiry, and never for a link that was answered or a run that was cancelled.

Either way the continuation rule set resumes the run under the same correlationId; the state machine
that paused it has already ended (statemachine/refund-approval.asl.json).
"""

import json
import os

import boto3

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]

# A standard queue may deliver a message more than once (and the publisher may send one twice after a
# crash, under the same id). Remember handled ids: here in memory; in real use, a conditional write
# (e.g. DynamoDB PutItem with attribute_not_exists(id)) done in the same step as the run's resumption.
handled = set()


def start_rule_set(message, reason):
    """Resume the run: start the continuation rule set with the merged context, same correlation id."""
    print(f"start {message['ruleSetId']} in {message['environmentId']} for run {message['correlationId']}"
          f" ({reason}) with {sorted(message['context'])}")


def resume_after_answer(message):
    """The reviewer answered: their input is in the context (e.g. decision = approve/reject)."""
    start_rule_set(message, f"answered at {message['submittedAt']}, submission {message['submissionId']}")


def resume_after_timeout(message):
    """Nobody answered in time: the onTimeout rule set, with onTimeout's default values in the context
    (e.g. decision = reject). There is no submission: don't read submissionId or submittedAt."""
    start_rule_set(message, f"link {message['interventionId']} expired unanswered")


def handle(message):
    if message.get("version") != 1:
        raise ValueError(f"unknown continuation version {message.get('version')}")
    if message["id"] in handled:
        return  # a duplicate: already resumed
    if message["outcome"] == "submitted":
        resume_after_answer(message)
    elif message["outcome"] == "timedOut":
        resume_after_timeout(message)
    else:
        raise ValueError(f"unknown outcome {message['outcome']}")  # left on the queue, then dead-lettered
    handled.add(message["id"])


while True:
    batch = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10, WaitTimeSeconds=20)
    for received in batch.get("Messages", []):
        try:
            handle(json.loads(received["Body"]))
        except Exception as error:  # left on the queue: retried, then the dead-letter queue after 5
            print(f"continuation {received['MessageId']} failed: {error}")
            continue
        sqs.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle=received["ReceiptHandle"])

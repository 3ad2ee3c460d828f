"""Example consumer of continuation messages (boto3): resumes paused runs when reviewers answer.

    QUEUE_URL=<the stack's ContinuationQueueUrl output> python consumer.py

Its role needs the stack's ContinuationConsumerPolicyArn. A message body (version 1) looks like
{"version": 1, "id": "<interventionId>:<submissionId>", "outcome": "submitted", "environmentId": ...,
 "correlationId": ..., "ruleSetId": ..., "interventionId": ..., "submissionId": ..., "submittedAt": ...,
 "countsAgainstAllowance": false, "context": {"order.id": "A-1001", "decision": "approve", ...}}
and a timeout has "outcome": "timedOut", "id": "<interventionId>:timeout" and no submission id.
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


def start_rule_set(message):
    """Resume the run: start the continuation rule set with the merged context, same correlation id."""
    print(f"start {message['ruleSetId']} in {message['environmentId']} for run {message['correlationId']}"
          f" with {sorted(message['context'])}")


def handle(message):
    if message.get("version") != 1:
        raise ValueError(f"unknown continuation version {message.get('version')}")
    if message["id"] in handled:
        return  # a duplicate: already resumed
    if message["outcome"] == "submitted":
        start_rule_set(message)  # the reviewer's input is in message["context"]
    elif message["outcome"] == "timedOut":
        start_rule_set(message)  # the onTimeout rule set, with its default values
    else:
        raise ValueError(f"unknown outcome {message['outcome']}")
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

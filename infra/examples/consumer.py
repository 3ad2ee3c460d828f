"""Example consumer of continuation messages (boto3): resumes paused runs when reviewers answer, or when
their links expire unanswered — after checking that the message is the product's and decides what the run
asked about.

    QUEUE_URL=<the stack's ContinuationQueueUrl output> python consumer.py \\
        --keys https://<links host>/.well-known/receipt-keys.json --actions actions.json [--once]

Its role needs the stack's ContinuationConsumerPolicyArn. Needs `boto3`, `cryptography` and `rfc8785` (PyPI).
For every message it:

1. verifies the receipt: an ECDSA P-256 signature (KMS's ECDSA_SHA_256, DER, base64) over the SHA-256 of the
   message's canonical JSON (RFC 8785) without `receipt`, by a key of the published JWK Set (`--keys`, a URL
   or a file; rotated-out keys stay listed, so old receipts still verify). A message that fails is refused;
2. checks the decision digest: SHA-256 of the canonical JSON of {"action": <its OWN copy of the action it
   asked to approve>, "shown": <the message's `shown`>} must equal the message's `digest`. Its own copy comes
   from `--actions` (a JSON object: correlationId -> action; absent: the run asked about no action, null);
3. de-duplicates by `id` (SQS may deliver twice, and a publisher that dies between send and record sends
   again under the same id);
4. ignores reminders (`outcome` "reminder": no decision, the run waits on);
5. resumes the run: the rule set `ruleSetId` with `context`, under `correlationId`; `changes` lists what the
   reviewer changed of the values proposed (field, proposed, submitted).

Each message's result is printed as one JSON line: {"id", "result": resumed|duplicate|reminder|refused,
"why"?}. A refused message stays on the queue: retried, then dead-lettered. With --once it stops when the
queue is empty.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.request

import boto3
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ECDSA_SHA_256"


class Refused(Exception):
    """The message is not acted on: it is not the product's, or not about what this consumer asked."""


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_keys(source):
    """The published JWK Set (a URL or a file) as {kid: public key}."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310 - the operator's own URL
            jwks = json.load(response)
    else:
        with open(source, encoding="utf-8") as f:
            jwks = json.load(f)
    keys = {}
    for jwk in jwks["keys"]:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url(jwk["x"]), "big"), int.from_bytes(b64url(jwk["y"]), "big"), ec.SECP256R1()
        )
        keys[jwk["kid"]] = numbers.public_key()
    return keys


def verify_receipt(message, keys):
    """The key id that signed `message`, or Refused."""
    receipt = message.get("receipt")
    if not isinstance(receipt, dict):
        raise Refused("no receipt")
    if receipt.get("algorithm") != ALGORITHM:
        raise Refused(f"receipt algorithm {receipt.get('algorithm')!r}")
    key = keys.get(receipt.get("keyId"))
    if key is None:
        raise Refused(f"receipt key {receipt.get('keyId')!r} is not published")
    unsigned = {name: value for name, value in message.items() if name != "receipt"}
    signed = hashlib.sha256(rfc8785.dumps(unsigned)).digest()
    try:
        key.verify(base64.b64decode(receipt["signature"]), signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as error:
        raise Refused(f"the receipt does not match the message (altered or forged): {error or 'bad signature'}")
    return receipt["keyId"]


def decision_digest(action, shown):
    """What the message's `digest` must be for this action and what the reviewers were shown."""
    return "sha256:" + hashlib.sha256(rfc8785.dumps({"action": action, "shown": shown})).hexdigest()


def check_decided_on(message, own_action):
    if decision_digest(own_action, message.get("shown")) != message.get("digest"):
        raise Refused("the digest does not match this run's action: the reviewer decided on something else")


class Consumer:
    def __init__(self, keys, actions):
        self.keys = keys
        self.actions = actions
        # In memory here; in real use, a conditional write (e.g. DynamoDB PutItem with
        # attribute_not_exists(id)) in the same step as the run's resumption.
        self.handled = set()

    def handle(self, message):
        if message.get("version") != 1:
            raise Refused(f"unknown continuation version {message.get('version')}")
        kid = verify_receipt(message, self.keys)
        check_decided_on(message, self.actions.get(message["correlationId"]))
        if message["id"] in self.handled:
            return {"id": message["id"], "result": "duplicate"}
        if message["outcome"] == "reminder":
            return {"id": message["id"], "result": "reminder"}
        if message["outcome"] not in ("submitted", "approved", "rejected", "timedOut"):
            raise Refused(f"unknown outcome {message['outcome']}")
        self.handled.add(message["id"])
        return {
            "id": message["id"], "result": "resumed", "outcome": message["outcome"], "keyId": kid,
            "ruleSetId": message["ruleSetId"], "correlationId": message["correlationId"],
            "changes": message.get("changes", []),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", required=True, help="the published receipt keys: a URL or a file")
    parser.add_argument("--actions", help="a JSON file: correlationId -> the action this consumer asked about")
    parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
    args = parser.parse_args()
    actions = {}
    if args.actions:
        with open(args.actions, encoding="utf-8") as f:
            actions = json.load(f)
    consumer = Consumer(load_keys(args.keys), actions)
    sqs = boto3.client("sqs")
    queue_url = os.environ["QUEUE_URL"]
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1 if args.once else 20)
        received = batch.get("Messages", [])
        if not received and args.once:
            return 0
        for message in received:
            body = None
            try:
                body = json.loads(message["Body"])
                result = consumer.handle(body)
            except (Refused, ValueError, KeyError) as error:  # left on the queue: retried, then dead-lettered
                named = body.get("id") if isinstance(body, dict) else None
                print(json.dumps({"id": named or message["MessageId"], "result": "refused", "why": str(error)}), flush=True)
                continue
            print(json.dumps(result), flush=True)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    sys.exit(main())

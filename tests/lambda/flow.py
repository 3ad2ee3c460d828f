"""Helpers of tests/lambda/flow.sh: the moto side (table, queue, stream, queue reads) and the seven steps of
one create -> view -> submit -> publish flow through the real Lambda binaries under `cargo lambda watch`.

    flow.py setup WORKDIR          creates the table and the queue; writes WORKDIR/aws.env (KEY=VALUE lines)
    flow.py steps WORKDIR PORT     runs the steps against the watch emulator on 127.0.0.1:PORT

Every step prints one `PASS [n] ...` or `FAIL [n] ...` line; `steps` exits non-zero when any step failed.
AWS_ENDPOINT_URL, credentials and AWS_REGION come from the environment (tests/moto/with-moto.sh).
"""

import base64
import datetime
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3

REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
HOST = "127.0.0.1"

# The design's example link-creation input (docs/examples/link-creation-input.json, the fixture of
# docs/interfaces.md); each step sets runAvailableUntil to now + 1 day.
EXAMPLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples",
                            "link-creation-input.json")
with open(EXAMPLE_PATH) as _example:
    EXAMPLE_INPUT = json.load(_example)


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


# ---------------------------------------------------------------------------------------------- setup


def setup(workdir):
    """The table as DynamoStore::create_table makes it, a standard queue, and a fresh signing key."""
    suffix = secrets.token_hex(4)
    table, queue = f"hi-flow-{suffix}", f"hi-flow-{suffix}"
    dynamo = client("dynamodb")
    dynamo.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "outbox", "AttributeType": "S"},
            {"AttributeName": "outboxAt", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "outbox",
                "KeySchema": [
                    {"AttributeName": "outbox", "KeyType": "HASH"},
                    {"AttributeName": "outboxAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    dynamo.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    queue_url = client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    key = "flow:" + base64.b64encode(secrets.token_bytes(32)).decode()
    # The onTimeout timers: a schedule group on moto (it stores schedules; it never fires them).
    group = f"{table}-timeouts"
    client("scheduler").create_schedule_group(Name=group)
    account = "123456789012"
    path = os.path.join(workdir, "aws.env")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"TABLE_NAME={table}\nQUEUE_URL={queue_url}\nLINK_SIGNING_KEYS={key}\n")
        f.write(f"SCHEDULE_GROUP={group}\n")
        f.write(f"TIMEOUT_FUNCTION_ARN=arn:aws:lambda:eu-west-1:{account}:function:timeout\n")
        f.write(f"SCHEDULER_ROLE_ARN=arn:aws:iam::{account}:role/scheduler\n")
    print(f"table {table}, queue {queue_url}, signing key id 'flow' (32 random bytes)")


# ---------------------------------------------------------------------------------------------- helpers


class StepFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise StepFailed(message)


def invoke(port, function, payload_file):
    """`cargo lambda invoke` against the watch emulator: (exit code, stdout, stderr)."""
    cmd = [
        "cargo", "lambda", "invoke", function,
        "--invoke-address", HOST, "--invoke-port", str(port),
        "--data-file", payload_file, "--output-format", "json", "--color", "never",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout, done.stderr


def http(method, url, body=None, headers=None):
    """(status, headers, body text) of one request; errors statuses are answers, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")


def jsonable(value):
    """boto3's stream records as Lambda's event JSON: datetimes as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


def stream_record(item, table, stream, sequence):
    """The DynamoDB stream record (INSERT, NEW_IMAGE) of `item`, as Lambda hands it to the publisher."""
    return {
        "eventID": secrets.token_hex(16),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": time.time(),
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": str(100_000_000_000_000_000_000 + sequence),
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{table}/stream/{stream}",
    }


def load_env(workdir):
    env = {}
    with open(os.path.join(workdir, "aws.env")) as f:
        for line in f:
            name, _, value = line.rstrip("\n").partition("=")
            env[name] = value
    return env


# ---------------------------------------------------------------------------------------------- steps


class Flow:
    def __init__(self, workdir, port):
        self.workdir = workdir
        self.port = int(port)
        env = load_env(workdir)
        self.table = env["TABLE_NAME"]
        self.queue_url = env["QUEUE_URL"]
        self.group = env["SCHEDULE_GROUP"]
        self.base = f"http://{HOST}:{self.port}"
        self.link_base = f"{self.base}/lambda-url/form-page"
        self.dynamo = client("dynamodb")
        self.state = {}

    def file(self, name, payload):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            json.dump(payload, f)
        return path

    def item_count(self):
        return self.dynamo.scan(TableName=self.table, Select="COUNT", ConsistentRead=True)["Count"]

    # 1 -------------------------------------------------------------------------------------------
    def create_link(self):
        payload = json.loads(json.dumps(EXAMPLE_INPUT))
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        payload["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        rc, out, err = invoke(self.port, "create-link", self.file("create-link.json", payload))
        check(rc == 0, f"cargo lambda invoke create-link exited {rc}: {err.strip()[-600:]}")
        output = json.loads(out)
        link = output.get("context", {}).get("approval.url")
        check(isinstance(link, str), f"no context[approval.url] in the output: {out}")
        for key, value in payload["context"].items():
            check(output["context"].get(key) == value, f"context[{key}] is not passed through: {output['context']}")
        check(link.startswith(self.link_base + "/i/"), f"the link {link} is not under LINK_BASE_URL {self.link_base}")
        intervention_id = output.get("interventionId")
        check(isinstance(intervention_id, str) and intervention_id, f"no interventionId: {out}")
        expires = datetime.datetime.fromisoformat(output["expiresAt"].replace("Z", "+00:00"))
        left = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        check(3000 < left <= 3600, f"expiresAt {output['expiresAt']} is not about one hour ahead")
        self.state.update(link=link, intervention_id=intervention_id, token=link.rsplit("/i/", 1)[1])
        schedule = client("scheduler").get_schedule(Name=intervention_id, GroupName=self.group)
        check(schedule["ScheduleExpression"].startswith("at("), f"the onTimeout timer: {schedule['ScheduleExpression']}")
        return f"interventionId {intervention_id}, expiresAt {output['expiresAt']}, " \
               f"timer {schedule['ScheduleExpression']}, link {link}"

    # 2 -------------------------------------------------------------------------------------------
    def view(self):
        status, headers, body = http("GET", self.state["link"], headers={"Accept": "text/html"})
        check(status == 200, f"GET link answered {status}: {body[:300]}")
        check(headers.get("content-type", "").startswith("text/html"), f"content-type {headers.get('content-type')}")
        check("<form" in body and "Approve refund" in body and 'name="decision"' in body, "the page has no form")
        check("a@example.com" not in body, "a secret context value is on the public page")
        found = re.search(r'<input type="hidden" name="_submissionId" value="([^"]+)"', body)
        check(found, "no hidden _submissionId on the page")
        self.state["submission_id"] = found.group(1)
        # The router's only other route is the stylesheet at exactly /assets/intervention.css (anything else
        # is a 404): a 200 here shows the function receives the path after /lambda-url/form-page.
        status, headers, _ = http("GET", f"{self.link_base}/assets/intervention.css")
        check(status == 200 and headers.get("content-type", "").startswith("text/css"),
              f"the stylesheet through the function URL answered {status} {headers.get('content-type')}")
        return (f"200 HTML form, _submissionId {self.state['submission_id']}; form-page received rawPath "
                f"/i/<token> (watch strips /lambda-url/form-page; /assets/intervention.css likewise 200 text/css)")

    # 3 -------------------------------------------------------------------------------------------
    def submit(self):
        url = f"{self.base}/lambda-url/submission/i/{self.state['token']}"
        body = urllib.parse.urlencode({"decision": "approve", "_submissionId": self.state["submission_id"]})
        status, _, page = http("POST", url, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        check(status == 200, f"POST answered {status}: {page[:400]}")
        correlation_id = EXAMPLE_INPUT["correlationId"]
        check(correlation_id in page, "the confirmation page does not show the correlation id")
        timers = client("scheduler").list_schedules(GroupName=self.group)["Schedules"]
        check(not any(t["Name"] == self.state["intervention_id"] for t in timers), "the answered link's timer is still there")
        return f"200 confirmation page with correlation id {correlation_id} (via {self.base}/lambda-url/submission/i/…)"

    # 4 -------------------------------------------------------------------------------------------
    def stream_event(self):
        submission_sk = f"S#{self.state['submission_id']}"
        note = ""
        try:
            records, arn = self.read_stream()
            inserts = [
                r for r in records
                if r["eventName"] == "INSERT" and r["dynamodb"].get("NewImage", {}).get("sk", {}).get("S") == submission_sk
            ]
            check(len(inserts) == 1, f"{len(inserts)} INSERT records of {submission_sk} on moto's stream")
            source = f"moto's stream {arn.rsplit('/', 1)[-1]}: {len(records)} records " \
                     f"({', '.join(r['eventName'] for r in records)}), one INSERT of the submission item"
        except Exception as error:  # moto's stream is an emulation: fall back to the stored item
            note = f" — FALLBACK: moto's stream did not serve the record ({error}); built from GetItem"
            records = [self.record_from_item(submission_sk)]
            source = "GetItem of the submission item"
        self.state["event"] = self.file("publisher-event.json", {"Records": records})
        return f"event of {len(records)} records from {source}{note}"

    def read_stream(self):
        arn = self.dynamo.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        streams = client("dynamodbstreams")
        records = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                if not page["Records"]:
                    break
                records.extend(page["Records"])
                iterator = page.get("NextShardIterator")
        event_records = []
        for record in records:
            record = jsonable(record)
            # Lambda's event source mapping adds the stream ARN; moto's records name us-east-1 whatever the
            # table's region, so the region is the table's.
            record["eventSourceARN"] = arn
            record["awsRegion"] = REGION
            event_records.append(record)
        return event_records, arn

    def record_from_item(self, submission_sk):
        key = {"pk": {"S": f"I#{self.state['intervention_id']}"}, "sk": {"S": submission_sk}}
        item = self.dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
        return jsonable(stream_record(item, self.table, "flow", 1))

    # 5 -------------------------------------------------------------------------------------------
    def publish(self):
        rc, out, err = invoke(self.port, "publisher", self.state["event"])
        check(rc == 0, f"cargo lambda invoke publisher exited {rc}: {err.strip()[-600:]}")
        output = json.loads(out)
        check(output.get("batchItemFailures") == [], f"batchItemFailures is not empty: {out}")
        return "batchItemFailures: []"

    # 6 -------------------------------------------------------------------------------------------
    def queued(self):
        sqs = client("sqs")
        messages = []
        for _ in range(3):  # until an empty receive: exactly one message must be there
            page = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
            ).get("Messages", [])
            if not page:
                break
            messages.extend(page)
        check(len(messages) == 1, f"{len(messages)} messages on the queue: {[m['Body'] for m in messages]}")
        message = messages[0]
        body = json.loads(message["Body"])
        intervention_id, submission_id = self.state["intervention_id"], self.state["submission_id"]
        correlation_id = EXAMPLE_INPUT["correlationId"]
        expected = {
            "id": f"{intervention_id}:{submission_id}",
            "outcome": "submitted",
            "correlationId": correlation_id,
            "environmentId": EXAMPLE_INPUT["environmentId"],
            "ruleSetId": EXAMPLE_INPUT["ruleSetId"],
            "interventionId": intervention_id,
            "submissionId": submission_id,
        }
        for key, value in expected.items():
            check(body.get(key) == value, f"body[{key}] = {body.get(key)!r}, expected {value!r}: {body}")
        check(body.get("context", {}).get("decision") == "approve", f"decision not in the context: {body}")
        attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        check(attributes.get("correlationId") == correlation_id, f"message attributes {attributes}")
        check(attributes.get("environmentId") == EXAMPLE_INPUT["environmentId"], f"message attributes {attributes}")
        key = {"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": f"S#{submission_id}"}}
        item = self.dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        check(item is not None, "the submission item is gone")
        check("outbox" not in item and "outboxAt" not in item, f"not marked published: {sorted(item)}")
        return (f"1 message, id {body['id']}, outcome submitted, attributes correlationId+environmentId "
                f"({', '.join(sorted(attributes))}); submission item has no outbox/outboxAt (published)")

    # 7 -------------------------------------------------------------------------------------------
    def bad_input(self):
        payload = json.loads(json.dumps(EXAMPLE_INPUT))
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        payload["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        payload["formDocument"]["fields"][0]["type"] = "slider"
        path = self.file("create-link-bad.json", payload)
        before = self.item_count()
        rc, out, err = invoke(self.port, "create-link", path)
        check(rc != 0, f"cargo lambda invoke succeeded on a bad input: {out}")
        check("InvalidInterventionConfig" in err, f"no InvalidInterventionConfig in: {err.strip()}")
        check("formDocument.fields[0].type" in err, f"no formDocument.fields[0].type in: {err.strip()}")
        # The same invocation through the emulator's Invoke API (what `cargo lambda invoke` calls) shows the
        # function's error object as Lambda returns it.
        with open(path, "rb") as f:
            data = f.read()
        status, _, answer = http("POST", f"{self.base}/2015-03-31/functions/create-link/invocations", data)
        error = json.loads(answer)
        check(error.get("errorType") == "InvalidInterventionConfig", f"Invoke API answered {status} {answer}")
        check("formDocument.fields[0].type" in error.get("errorMessage", ""), f"Invoke API answered {answer}")
        after = self.item_count()
        check(after == before, f"the refused input wrote {after - before} items")
        return f"errorType InvalidInterventionConfig, errorMessage {error['errorMessage']!r}; nothing written"


def steps(workdir, port):
    flow = Flow(workdir, port)
    chain = [
        (1, "create-link invoke", flow.create_link),
        (2, "GET link via form-page function URL", flow.view),
        (3, "POST via submission function URL", flow.submit),
        (4, "DynamoDB stream event", flow.stream_event),
        (5, "publisher invoke", flow.publish),
        (6, "SQS continuation + outbox cleared", flow.queued),
    ]
    failed = False
    for number, name, step in chain + [(7, "create-link bad input", flow.bad_input)]:
        if failed and number <= 6:
            print(f"FAIL [{number}] {name}: not run, an earlier step failed", flush=True)
            continue
        started = time.monotonic()
        try:
            detail = step()
            print(f"PASS [{number}] {name} ({time.monotonic() - started:.1f}s): {detail}", flush=True)
        except Exception as error:  # noqa: BLE001 - every failure is one FAIL line
            kind = "" if isinstance(error, StepFailed) else f"{type(error).__name__}: "
            print(f"FAIL [{number}] {name} ({time.monotonic() - started:.1f}s): {kind}{error}", flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "setup":
        setup(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "steps":
        sys.exit(steps(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)

"""Helpers of tests/lambda/flow.sh: the moto side (table, queue, stream, queue reads) and the steps of one
create -> view -> submit -> publish flow, a timeout and a few refusals through the real Lambda binaries
under `cargo lambda watch`, all at LOG_LEVEL=trace (the most verbose level infra/template.yaml allows), then
two checks of what the functions printed (WORKDIR/watch.log, their stdout and stderr):

- the metrics: after each step, the EMF document of the function that ran it has the metric the step should
  produce (InterventionsCreated, PageViews, SubmissionsAccepted, Rejections by reason, TimeoutsQueued,
  ContinuationsPublished) with its `function` and `environment` (ENVIRONMENT_NAME) dimensions;
- the logs: no line holds a link token (nor its path segment, nor its signed part), a secret context value,
  or the marker the reviewer typed into the form's `note` field (which the continuation does carry).

    flow.py setup WORKDIR          creates the table and the queue; writes WORKDIR/aws.env (KEY=VALUE lines)
    flow.py steps WORKDIR PORT     runs the steps against the watch emulator on 127.0.0.1:PORT

Every step prints one `PASS [n] ...` or `FAIL [n] ...` line; `steps` exits non-zero when any step failed.
AWS_ENDPOINT_URL, credentials and AWS_REGION come from the environment (tests/moto/with-moto.sh);
FLOW_WATCH_PID (flow.sh) is the watch process, whose function processes' environment is checked.
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
import uuid

import boto3

import durable
import sfn

# The consumer example's checks (infra/examples/consumer.py): the receipt verified with `cryptography` and
# another RFC 8785 implementation than the product's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "infra", "examples"))
import consumer  # noqa: E402

REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
HOST = "127.0.0.1"
# The most verbose of infra/template.yaml's LogLevel AllowedValues, and the `environment` dimension.
LOG_LEVEL = "trace"
ENVIRONMENT_NAME = "flow-test"
METRICS_NAMESPACE = "HumanIntervention"

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
            {"AttributeName": "environmentId", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "N"},
            {"AttributeName": "correlationId", "AttributeType": "S"},
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
            },
            {  # the record route's list
                "IndexName": "byEnvironment",
                "KeySchema": [
                    {"AttributeName": "environmentId", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {  # the cancel function's: the interventions of one execution
                "IndexName": "byCorrelation",
                "KeySchema": [{"AttributeName": "correlationId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    dynamo.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    queue_url = client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    key = "flow:" + base64.b64encode(secrets.token_bytes(32)).decode()
    # The receipts' key: an asymmetric P-256 key on moto's KMS, as the template creates it.
    receipt_key = client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    # The onTimeout timers: a schedule group on moto (it stores schedules; it never fires them).
    group = f"{table}-timeouts"
    client("scheduler").create_schedule_group(Name=group)
    # The reviewers' emails: a verified identity on moto's SES (v2), the publisher's EMAIL_FROM.
    client("sesv2").create_email_identity(EmailIdentity=SENDER)
    account = "123456789012"
    path = os.path.join(workdir, "aws.env")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"TABLE_NAME={table}\nQUEUE_URL={queue_url}\nLINK_SIGNING_KEYS={key}\n")
        f.write(f"SCHEDULE_GROUP={group}\nRECEIPT_KMS_KEY_IDS={receipt_key}\n")
        f.write(f"LOG_LEVEL={LOG_LEVEL}\nENVIRONMENT_NAME={ENVIRONMENT_NAME}\n")
        f.write(f"TIMEOUT_FUNCTION_ARN=arn:aws:lambda:eu-west-1:{account}:function:timeout\n")
        f.write(f"SCHEDULER_ROLE_ARN=arn:aws:iam::{account}:role/scheduler\n")
        f.write(f"EMAIL_FROM=Approvals <{SENDER}>\n")
    print(f"table {table}, queue {queue_url}, signing key id 'flow' (32 random bytes), "
          f"LOG_LEVEL={LOG_LEVEL}, ENVIRONMENT_NAME={ENVIRONMENT_NAME}")
    print(sfn.setup_moto(client, REGION))


# ---------------------------------------------------------------------------------------------- helpers


# The SES identity the publisher sends reviewers' emails from.
SENDER = "approvals@flow.example.com"


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


# ---------------------------------------------------------------------------------------------- what the functions print


FUNCTIONS = ("create-link", "form-page", "submission", "publisher", "timeout")
EXTRA_FUNCTIONS = ("cancel", "records")


def as_json(line):
    """The JSON object a line holds, or None."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Printed:
    """WORKDIR/watch.log: what cargo lambda watch and cargo print, and every line the function processes print
    on stdout (the EMF documents) and stderr (the JSON logs), which are watch's. A mark is a byte offset."""

    def __init__(self, path):
        self.path = path

    def mark(self):
        try:
            return os.path.getsize(self.path)
        except FileNotFoundError:
            return 0

    def lines(self, since=0):
        with open(self.path, "rb") as f:
            f.seek(since)
            data = f.read()
        return data.decode("utf-8", "replace").splitlines()

    def emf(self, since=0):
        return [doc for doc in map(as_json, self.lines(since)) if doc is not None and "_aws" in doc]


def metric_values(docs, name, function, reason=None, labels=None):
    """The values of metric `name` in the EMF documents of `function` that declare it in the product's namespace
    with the dimensions function, environment (and reason, and `labels`' names), set to `function`,
    ENVIRONMENT_NAME (and `reason`, and `labels`' values)."""
    labels = labels or {}
    wanted = {"function", "environment"} | ({"reason"} if reason else set()) | set(labels)
    values = []
    for doc in docs:
        for directive in doc["_aws"].get("CloudWatchMetrics", []):
            if directive.get("Namespace") != METRICS_NAMESPACE:
                continue
            if not any(m.get("Name") == name for m in directive.get("Metrics", [])):
                continue
            if not any(set(dims) == wanted for dims in directive.get("Dimensions", [])):
                continue
            if doc.get("function") != function or doc.get("environment") != ENVIRONMENT_NAME:
                continue
            if reason and doc.get("reason") != reason:
                continue
            if any(doc.get(k) != v for k, v in labels.items()):
                continue
            if isinstance(doc.get(name), (int, float)):
                values.append(doc[name])
    return values


def spellings(needle):
    """A secret as a log line could hold it: as is, percent-encoded, and base64 (standard and URL-safe) at each
    of the three byte alignments (the middle characters every encoding of it shares)."""
    found = {needle, urllib.parse.quote(needle, safe=""), urllib.parse.quote_plus(needle)}
    raw = needle.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        middle = encoded[4 if shift else 0:-4]
        if len(middle) >= 12:
            found.update({middle, middle.replace("+", "-").replace("/", "_")})
    return sorted(found)


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


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
        self.printed = Printed(os.path.join(workdir, "watch.log"))
        self.marks = {}  # step number -> where watch.log ended when the step started
        # What no log line may hold: the links' tokens, the secret context values, the reviewer's marker.
        self.tokens, self.secrets = [], []
        self.marker = "flow-note-marker-" + secrets.token_hex(8)
        self.task_tokens = []  # the Step Functions steps' (sfn.py): secrets too
        self.callback_ids = []  # the durable executions' callback ids (durable.py): secrets too
        self.state = {}

    def file(self, name, payload):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            json.dump(payload, f)
        return path

    def item_count(self):
        return self.dynamo.scan(TableName=self.table, Select="COUNT", ConsistentRead=True)["Count"]

    def creation_input(self, **settings):
        """The design's example with runAvailableUntil a day ahead and a secret value of this run's own."""
        payload = json.loads(json.dumps(EXAMPLE_INPUT))
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        payload["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        for key in payload["secretKeys"]:
            payload["context"][key] = f"flow-secret-{secrets.token_hex(8)}@example.com"
            self.secrets.append((key, payload["context"][key]))
        payload.update(settings)
        return payload

    def created(self, payload, rc, out, err):
        check(rc == 0, f"cargo lambda invoke create-link exited {rc}: {err.strip()[-600:]}")
        output = json.loads(out)
        link = output.get("context", {}).get("approval.url")
        check(isinstance(link, str), f"no context[approval.url] in the output: {out}")
        for key, value in payload["context"].items():
            check(output["context"].get(key) == value, f"context[{key}] is not passed through: {output['context']}")
        check(link.startswith(self.link_base + "/i/"), f"the link {link} is not under LINK_BASE_URL {self.link_base}")
        intervention_id = output.get("interventionId")
        check(isinstance(intervention_id, str) and intervention_id, f"no interventionId: {out}")
        token = link.rsplit("/i/", 1)[1]
        check(re.fullmatch(r"v1\.flow\.[A-Za-z0-9_-]{40,}", token), f"the token {token} is not v1.<kid>.<…>")
        self.tokens.append(token)
        expires = datetime.datetime.fromisoformat(output["expiresAt"].replace("Z", "+00:00"))
        schedule = client("scheduler").get_schedule(Name=intervention_id, GroupName=self.group)
        check(schedule["ScheduleExpression"].startswith("at("), f"the onTimeout timer: {schedule['ScheduleExpression']}")
        return link, intervention_id, token, expires, schedule["ScheduleExpression"]

    def expect_metric(self, step, name, function, reason=None, count=1, labels=None):
        """The metric in the EMF documents printed since `step` started (a document can follow its answer by a
        moment: watch relays the function's stdout)."""
        deadline = time.monotonic() + 10
        while True:
            docs = self.printed.emf(self.marks[step])
            values = metric_values(docs, name, function, reason, labels)
            if sum(values) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        seen = [{k: v for k, v in d.items() if k != "_aws"} for d in docs]
        check(sum(values) == count, f"{name} from {function} (reason {reason}) = {values}, expected {count}, "
                                    f"in the {len(docs)} EMF documents printed since step {step}: {seen}")
        dims = f"function={function}, environment={ENVIRONMENT_NAME}" + (f", reason={reason}" if reason else "")
        dims += "".join(f", {k}={v}" for k, v in (labels or {}).items())
        return (f"{name}={int(sum(values))} {{{dims}}} in namespace {METRICS_NAMESPACE}, "
                f"{len(values)} of the {len(docs)} EMF documents printed since step {step} started")

    # 1 -------------------------------------------------------------------------------------------
    def create_link(self):
        payload = self.creation_input()
        rc, out, err = invoke(self.port, "create-link", self.file("create-link.json", payload))
        link, intervention_id, token, expires, timer = self.created(payload, rc, out, err)
        left = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        check(3000 < left <= 3600, f"expiresAt {expires} is not about one hour ahead")
        self.state.update(link=link, intervention_id=intervention_id, token=token)
        return f"interventionId {intervention_id}, expiresAt {expires.isoformat()}, timer {timer}, link {link}"

    # 2 -------------------------------------------------------------------------------------------
    def view(self):
        status, headers, body = http("GET", self.state["link"], headers={"Accept": "text/html"})
        check(status == 200, f"GET link answered {status}: {body[:300]}")
        check(headers.get("content-type", "").startswith("text/html"), f"content-type {headers.get('content-type')}")
        check("<form" in body and "Approve refund" in body and 'name="decision"' in body, "the page has no form")
        check(not any(value in body for _, value in self.secrets), "a secret context value is on the public page")
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
        body = urllib.parse.urlencode(
            {"decision": "approve", "note": self.marker, "_submissionId": self.state["submission_id"]}
        )
        status, _, page = http("POST", url, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        check(status == 200, f"POST answered {status}: {page[:400]}")
        correlation_id = EXAMPLE_INPUT["correlationId"]
        check(correlation_id in page, "the confirmation page does not show the correlation id")
        timers = client("scheduler").list_schedules(GroupName=self.group)["Schedules"]
        check(not any(t["Name"] == self.state["intervention_id"] for t in timers), "the answered link's timer is still there")
        return (f"200 confirmation page with correlation id {correlation_id} (via {self.base}/lambda-url/submission/i/…), "
                f"note {self.marker!r} typed in")

    # 4 -------------------------------------------------------------------------------------------
    def stream_event(self, intervention_id, sk, name):
        """WORKDIR/NAME: the publisher's event holding the stream's INSERT of the item (I#id, sk)."""
        pk = f"I#{intervention_id}"
        note = ""
        try:
            records, arn = self.read_stream()
            inserts = [
                r for r in records
                if r["eventName"] == "INSERT" and r["dynamodb"].get("NewImage", {}).get("sk", {}).get("S") == sk
                and r["dynamodb"]["NewImage"].get("pk", {}).get("S") == pk
            ]
            check(len(inserts) == 1, f"{len(inserts)} INSERT records of {pk} {sk} on moto's stream")
            source = f"moto's stream {arn.rsplit('/', 1)[-1]}: {len(records)} records " \
                     f"({', '.join(r['eventName'] for r in records)}), one INSERT of {sk}"
            # Only the item's own record: an earlier, published one would be queued again (at least once).
            if sk.startswith(("T#", "M#")):
                records = inserts
        except Exception as error:  # moto's stream is an emulation: fall back to the stored item
            note = f" — FALLBACK: moto's stream did not serve the record ({error}); built from GetItem"
            records = [self.record_from_item(pk, sk)]
            source = "GetItem of the item"
        self.state[name] = self.file(f"{name}.json", {"Records": records})
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

    def record_from_item(self, pk, sk):
        item = self.dynamo.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)["Item"]
        return jsonable(stream_record(item, self.table, "flow", 1))

    # 5 -------------------------------------------------------------------------------------------
    def publish(self, name):
        rc, out, err = invoke(self.port, "publisher", self.state[name])
        check(rc == 0, f"cargo lambda invoke publisher exited {rc}: {err.strip()[-600:]}")
        output = json.loads(out)
        check(output.get("batchItemFailures") == [], f"batchItemFailures is not empty: {out}")
        return "batchItemFailures: []"

    # 6 -------------------------------------------------------------------------------------------
    def receive_one(self):
        sqs = client("sqs")
        messages = []
        for _ in range(3):  # until an empty receive: exactly one message must be there
            page = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
            ).get("Messages", [])
            if not page:
                break
            messages.extend(page)
            for m in page:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        check(len(messages) == 1, f"{len(messages)} messages on the queue: {[m['Body'] for m in messages]}")
        message = messages[0]
        attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        return message, json.loads(message["Body"]), attributes

    def queued(self):
        message, body, attributes = self.receive_one()
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
        # The marker is data: the continuation carries it (and the log check below finds it in no log line).
        check(body.get("context", {}).get("note") == self.marker, f"the note {self.marker!r} is not in the context: {body}")
        keys_url = f"{self.link_base}/.well-known/receipt-keys.json"
        signed_by = consumer.verify_receipt(body, consumer.load_keys(keys_url))
        consumer.check_decided_on(body, None)
        check(attributes.get("correlationId") == correlation_id, f"message attributes {attributes}")
        check(attributes.get("environmentId") == EXAMPLE_INPUT["environmentId"], f"message attributes {attributes}")
        key = {"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": f"S#{submission_id}"}}
        item = self.dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        check(item is not None, "the submission item is gone")
        check("outbox" not in item and "outboxAt" not in item, f"not marked published: {sorted(item)}")
        return (f"1 message, id {body['id']}, receipt by KMS key {signed_by} verified by the consumer example against "
                f"form-page's {keys_url}, digest checked; outcome submitted, context.note is the marker "
                f"({message['Body'].count(self.marker)} occurrence in the SQS body), attributes correlationId+environmentId "
                f"({', '.join(sorted(attributes))}); submission item has no outbox/outboxAt (published)")

    # E -------------------------------------------------------------------------------------------
    def create_notified(self):
        """An intervention whose link the product sends itself, by email: the message is recorded with it."""
        to = f"reviewer-{secrets.token_hex(4)}@example.com"
        payload = self.creation_input(correlationId=str(uuid.uuid4()), notify={"email": [to]})
        rc, out, err = invoke(self.port, "create-link", self.file("create-link-notified.json", payload))
        link, intervention_id, token, expires, timer = self.created(payload, rc, out, err)
        key = {"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": "M#r0"}}
        item = self.dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        check(item is not None, "no M#r0 message item beside the intervention")
        check(item.get("outbox", {}).get("S") == "message", f"the message is not in the outbox: {sorted(item)}")
        self.state.update(notified_id=intervention_id, notified_to=to, notified_link=link)
        return f"interventionId {intervention_id}, message M#r0 in the outbox (outbox=message) for {to}"

    def emailed(self):
        """The publisher sent the message through SES v2 (moto kept it), once, and recorded SES's MessageId."""
        intervention_id, to = self.state["notified_id"], self.state["notified_to"]
        status, _, body = http("GET", f"{os.environ['AWS_ENDPOINT_URL']}/__ses/sent")
        check(status == 200, f"moto's /__ses/sent answered {status}")
        sent = [m for m in json.loads(body)["sent"] if to in m["destinations"]]
        check(len(sent) == 1, f"{len(sent)} emails to {to} on moto's SES")
        raw = sent[0]["raw"]
        check(f"<{SENDER}>" in raw and "multipart/alternative" in raw, "not the reviewer's email from EMAIL_FROM")
        decoded = "".join(
            base64.b64decode("".join(part.split("\r\n\r\n", 1)[1].split("\r\n--", 1)[0].split())).decode()
            for part in raw.split("Content-Transfer-Encoding: base64")[1:]
        )
        check(self.state["notified_link"] in decoded, "the reviewer's own link is not in the email")
        key = {"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": "M#r0"}}
        item = self.dynamo.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
        message = json.loads(item["message"]["S"])
        check("outbox" not in item, f"the sent message is still in the outbox: {sorted(item)}")
        check(message.get("sent", {}).get("providerId") == sent[0]["id"], f"SES's id not recorded: {message.get('sent')}")
        self.tokens.append(self.state["notified_link"].rsplit("/i/", 1)[1])
        return f"1 email to {to} from {SENDER} on moto's SES, holding the reviewer's link; MessageId {sent[0]['id']} recorded"

    # 7 -------------------------------------------------------------------------------------------
    def create_short_link(self):
        """A second intervention, with onTimeout, whose link expires in about 1 s: its timeout fires at step 11
        (the steps between run while it expires)."""
        payload = self.creation_input(urlExpirationHours=0.0003, correlationId=str(uuid.uuid4()))
        rc, out, err = invoke(self.port, "create-link", self.file("create-link-short.json", payload))
        link, intervention_id, token, expires, timer = self.created(payload, rc, out, err)
        self.state.update(short_id=intervention_id, short_expires=expires, short_correlation=payload["correlationId"])
        return f"interventionId {intervention_id}, expiresAt {expires.isoformat()} (urlExpirationHours 0.0003), timer {timer}"

    # 8 -------------------------------------------------------------------------------------------
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
        return f"errorType InvalidInterventionConfig, errorMessage {error['errorMessage']!r}; nothing written (2 invocations)"

    # 9 -------------------------------------------------------------------------------------------
    def forged_view(self):
        token = self.state["token"]
        at = len(token) - 10  # a character of the HMAC
        forged = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]
        status, _, body = http("GET", f"{self.link_base}/i/{forged}", headers={"Accept": "application/json"})
        check(status == 404 and "not_found" in body, f"the forged link answered {status}: {body[:300]}")
        return f"404 {body.strip()[:120]}"

    # 10 ------------------------------------------------------------------------------------------
    def used_up_post(self):
        url = f"{self.base}/lambda-url/submission/i/{self.state['token']}"
        body = urllib.parse.urlencode({"decision": "reject", "_submissionId": secrets.token_urlsafe(16)})
        status, _, page = http("POST", url, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        check(status == 410 and "Already used the maximum number of times" in page, f"POST answered {status}: {page[:300]}")
        return "410 Already used the maximum number of times (a second submission id on the maxUrlUses 1 link)"

    # 11 ------------------------------------------------------------------------------------------
    def fire_timeout(self):
        wait = (self.state["short_expires"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 0.2
        if wait > 0:
            time.sleep(wait)
        payload = {"interventionId": self.state["short_id"]}
        rc, out, err = invoke(self.port, "timeout", self.file("timeout.json", payload))
        check(rc == 0, f"cargo lambda invoke timeout exited {rc}: {err.strip()[-600:]}")
        output = json.loads(out)
        check(output == {"interventionId": self.state["short_id"], "outcome": "queued"}, f"timeout answered {out}")
        return f"{json.dumps(output)} (after waiting {max(wait, 0):.1f}s for the link to expire)"

    # 13 ------------------------------------------------------------------------------------------
    def timeout_queued(self):
        message, body, attributes = self.receive_one()
        intervention_id = self.state["short_id"]
        expected = {
            "id": f"{intervention_id}:timeout",
            "outcome": "timedOut",
            "correlationId": self.state["short_correlation"],
            "ruleSetId": EXAMPLE_INPUT["onTimeout"]["ruleSetId"],
            "interventionId": intervention_id,
        }
        for key, value in expected.items():
            check(body.get(key) == value, f"body[{key}] = {body.get(key)!r}, expected {value!r}: {body}")
        check(body.get("context", {}).get("decision") == "reject", f"the onTimeout default is not in the context: {body}")
        return f"1 message, id {body['id']}, outcome timedOut, ruleSetId {body['ruleSetId']}, context.decision reject"

    # 14 ------------------------------------------------------------------------------------------
    def levels(self):
        """The function processes below watch run with LOG_LEVEL=trace and ENVIRONMENT_NAME (their environ)."""
        watch = int(os.environ["FLOW_WATCH_PID"])
        seen = {}
        for pid in descendants(watch):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = dict(v.split("=", 1) for v in f.read().decode().split("\0") if "=" in v)
            except OSError:
                continue
            if os.path.basename(exe) in FUNCTIONS + EXTRA_FUNCTIONS:
                seen[os.path.basename(exe)] = (environ.get("LOG_LEVEL"), environ.get("ENVIRONMENT_NAME"),
                                               environ.get("RUST_LOG"))
        # The five of the flow, and those the Step Functions steps start (cancel, records) when they ran.
        check(set(FUNCTIONS) <= set(seen) <= set(FUNCTIONS + EXTRA_FUNCTIONS),
              f"function processes below watch: {sorted(seen)}, expected {FUNCTIONS} (and of {EXTRA_FUNCTIONS})")
        wrong = {f: v for f, v in seen.items() if v[:2] != (LOG_LEVEL, ENVIRONMENT_NAME)}
        check(not wrong, f"(LOG_LEVEL, ENVIRONMENT_NAME, RUST_LOG) of {wrong}")
        rust_log = sorted({v[2] for v in seen.values()}, key=str)
        return (f"LOG_LEVEL={LOG_LEVEL} and ENVIRONMENT_NAME={ENVIRONMENT_NAME} in the environment of the "
                f"{len(seen)} function processes ({', '.join(sorted(seen))}); RUST_LOG {rust_log} (LOG_LEVEL wins)")

    # 15 ------------------------------------------------------------------------------------------
    def logs(self):
        """No line printed during the run holds a token, a secret value or the marker, in any spelling."""
        lines = self.printed.lines()
        objects = [as_json(line) for line in lines]
        logs = [o for o in objects if o is not None and "_aws" not in o]
        emf = sum(1 for o in objects if o is not None and "_aws" in o)
        by_level = {}
        for o in logs:
            by_level[o.get("level", "?")] = by_level.get(o.get("level", "?"), 0) + 1
        needles = []  # (what, value)
        for token in self.tokens:
            needles += [("token", token), ("/i/<token> path segment", "/i/" + token),
                        ("signed part", token.split(".", 2)[2]), ("HMAC tail", token[-40:])]
        needles += [(f"secret {key}", value) for key, value in self.secrets]
        needles += [("task token", token) for token in sorted(set(self.task_tokens))]
        needles += [("callback id", callback_id) for callback_id in sorted(set(self.callback_ids))]
        needles.append(("note marker", self.marker))
        counts, found = {}, []
        for what, value in needles:
            variants = spellings(value)
            n = 0
            for number, line in enumerate(lines, 1):
                hits = sum(line.count(v) for v in variants)
                if hits:
                    n += hits
                    masked = line
                    for v in variants:
                        masked = masked.replace(v, f"<{what}>")
                    found.append(f"line {number}: {masked[:240]}")
            counts[what] = counts.get(what, 0) + n
        # The capture holds the functions' lines: each intervention's id is logged with its events.
        ids = [self.state[k] for k in ("intervention_id", "short_id") if k in self.state]
        naming = sum(1 for line in lines if any(i in line for i in ids))
        check(self.tokens and self.secrets, "no link was created: nothing to look for")
        check(logs and emf and naming, f"{len(logs)} log lines, {emf} EMF documents, {naming} lines naming the "
                                       f"interventions: the functions' output is not in the capture")
        check(not found, f"{sum(counts.values())} occurrences ({counts}) in {len(found)} lines, the first:\n  "
                         + "\n  ".join(found[:10]))
        figures = ", ".join(f"{what} {n}" for what, n in counts.items())
        below_info = sum(n for level, n in by_level.items() if level in ("DEBUG", "TRACE"))
        return (f"{len(lines)} lines scanned ({len(logs) + emf} printed by the functions: {len(logs)} log lines "
                f"{dict(sorted(by_level.items()))}, {below_info} below INFO, and {emf} EMF documents, {naming} of them naming the interventions; "
                f"{len(lines) - len(logs) - emf} by watch and cargo); occurrences over the {len(self.tokens)} links, "
                f"the {len(self.secrets)} secret values and the marker, as is, percent-encoded or base64: {figures}")


def steps(workdir, port):
    flow = Flow(workdir, port)
    machine = sfn.Sfn(flow, client, check, invoke, http, REGION)
    flow.task_tokens = machine.task_tokens
    waiting = durable.Durable(flow, machine, client, check, invoke, os.environ["DURABLE_ENDPOINT"])
    flow.callback_ids = waiting.callback_ids
    metric = lambda step, *args, **kwargs: (lambda: flow.expect_metric(step, *args, **kwargs))  # noqa: E731
    chain = [  # (number, name, step, the steps it needs)
        ("1", "create-link invoke", flow.create_link, []),
        ("1m", "metric after create-link", metric("1", "InterventionsCreated", "create-link"), ["1"]),
        ("2", "GET link via form-page function URL", flow.view, ["1"]),
        ("2m", "metric after the view", metric("2", "PageViews", "form-page"), ["2"]),
        ("3", "POST via submission function URL", flow.submit, ["2"]),
        ("3m", "metric after the submission", metric("3", "SubmissionsAccepted", "submission"), ["3"]),
        ("4", "DynamoDB stream event", lambda: flow.stream_event(
            flow.state["intervention_id"], f"S#{flow.state['submission_id']}", "publisher-event"), ["3"]),
        ("5", "publisher invoke", lambda: flow.publish("publisher-event"), ["4"]),
        ("5m", "metric after the publisher", metric("5", "ContinuationsPublished", "publisher"), ["5"]),
        ("6", "SQS continuation + outbox cleared", flow.queued, ["5"]),
        ("E1", "create-link invoke with notify: the email recorded with the intervention", flow.create_notified, []),
        ("E2", "publisher invoke on the message's stream record", lambda: (
            flow.stream_event(flow.state["notified_id"], "M#r0", "message-event") + "; "
            + flow.publish("message-event")), ["E1"]),
        ("E2m", "metric after the message", metric("E2", "Messages", "publisher", labels={"channel": "email", "outcome": "sent"}), ["E2"]),
        ("E3", "the email on moto's SES (v2), SES's MessageId recorded", flow.emailed, ["E2"]),
        ("7", "create-link invoke, a link expiring in 1 s (onTimeout)", flow.create_short_link, []),
        ("8", "create-link bad input", flow.bad_input, []),
        ("8m", "metric after the bad input", metric("8", "Rejections", "create-link", "invalid_config", 2), ["8"]),
        ("9", "GET a forged link via form-page", flow.forged_view, ["1"]),
        ("9m", "metric after the forged link", metric("9", "Rejections", "form-page", "not_found"), ["9"]),
        ("10", "POST on the used-up link via submission", flow.used_up_post, ["3"]),
        ("10m", "metric after the used-up link", metric("10", "Rejections", "submission", "max_uses_reached"), ["10"]),
        ("11", "timeout invoke on the expired link", flow.fire_timeout, ["7"]),
        ("11m", "metric after the timeout", metric("11", "TimeoutsQueued", "timeout"), ["11"]),
        ("12", "publisher invoke on the timeout's stream record", lambda: (
            flow.stream_event(flow.state["short_id"], "T#timeout", "timeout-event") + "; "
            + flow.publish("timeout-event")), ["11"]),
        ("12m", "metric after the timeout's publisher", metric("12", "ContinuationsPublished", "publisher"), ["12"]),
        ("13", "SQS timeout continuation", flow.timeout_queued, ["12"]),
        # Step Functions on moto's interpreter (sfn.py), the Lambda tasks through serve.py's bridge.
        ("S1", "Lambda bridge: moto's Invoke API answers with the function under watch", machine.bridge, []),
        ("S2", "Retry on moto's interpreter: $$.State.EnteredTime and $$.Task.Token", machine.retry_context, ["S1"]),
        ("S3", "the queue-driven example on moto: link created, emailed, execution ends", machine.queued_example, ["S1"]),
        ("S4", "the waiting example, submitted: paused, approved through the functions, RefundApproved",
         machine.submitted, ["S1"]),
        ("S5", "the waiting example, timedOut: the link expires, TimedOut", machine.timed_out, ["S1"]),
        ("S6", "a submission before the token is attached: delivered once, on attach", machine.before_attach, ["S1"]),
        ("S7", "StopExecution, then cancel with EventBridge's event: Link has expired, nothing queued",
         machine.stopped, ["S1"]),
        ("S8", "cancel after the submission: too late, with the queued ids", machine.cancel_too_late, ["S4"]),
        ("S9", "TaskTimedOut on SendTaskSuccess (scripted): Link has expired, the record says why, no retry",
         machine.task_timed_out, ["S1"]),
        ("S11", "creation retried 3 times with one key after lost answers: 1 intervention, 1 timer, 1 link",
         machine.creation_retried, ["S1"]),
        ("S12", "TaskTimedOut on the attach's heartbeat (scripted): run FAILED, cancel (FAILED event) expires the link",
         machine.heartbeat_refused, ["S1"]),
        ("S13", "operator cancel of a waiting run: the execution FAILED at once with InterventionCancelled",
         machine.operator_cancelled, ["S1"]),
        ("S14", "operator extension of a waiting run: still waiting after the old expiry, the new link decides",
         machine.extended, ["S1"]),
        ("S10", "the task tokens: in no record and no execution output", machine.token_nowhere, ["S1"]),
        # Lambda durable functions in the emulator (durable.py, tests/durable/serve.py), create-link through the
        # bridge, the publisher and cancel answering their callbacks (AWS_ENDPOINT_URL_LAMBDA).
        ("D0", "the durable execution emulator through boto3: strict where it forgives", waiting.emulator_check, []),
        ("D0x", "the durable example's branches, create-link stubbed (tests/durable/example.py)",
         waiting.example_branches, []),
        ("D1", "the durable example, approved: paused, delivered once by the publisher, RefundApproved",
         waiting.approved, ["S1", "D0"]),
        ("D2", "a callback that timed out: the publisher's delivery finds it gone, Link has expired",
         waiting.callback_timed_out, ["S1", "D0"]),
        ("D3", "a decision recorded before the callback id arrives: delivered on arrival", waiting.decided_before_attach,
         ["S1", "D0"]),
        ("D4", "operator cancel of a waiting durable execution: FAILED at once with InterventionCancelled",
         waiting.operator_cancelled, ["S1", "D0"]),
        ("D6", "an operator's extension of a waiting durable execution: still waiting after the old expiry, the new link decides",
         waiting.extended, ["S1", "D0"]),
        ("D5", "the callback ids: in no record and no execution output", waiting.callback_ids_nowhere, ["D1"]),
        ("14", f"LOG_LEVEL={LOG_LEVEL} in the function processes", flow.levels, []),
        ("15", f"no token, secret or marker in the functions' output at LOG_LEVEL={LOG_LEVEL}", flow.logs, []),
    ]
    passed, failed = set(), False
    for number, name, step, needs in chain:
        missing = [n for n in needs if n not in passed]
        if missing:
            print(f"FAIL [{number}] {name}: not run, step {', '.join(missing)} did not pass", flush=True)
            failed = True
            continue
        started = time.monotonic()
        flow.marks[number] = flow.printed.mark()
        try:
            detail = step()
            print(f"PASS [{number}] {name} ({time.monotonic() - started:.1f}s): {detail}", flush=True)
            passed.add(number)
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

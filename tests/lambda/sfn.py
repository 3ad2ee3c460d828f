"""The Step Functions steps of tests/lambda/flow.py: real executions on moto's ASL interpreter, whose Lambda
tasks reach the real functions under `cargo lambda watch` through tests/moto/serve.py's bridge.

    S1  the bridge: moto's Lambda Invoke API answers with the function under watch (errors as Lambda's)
    S2  a state's Retry on moto: $$.State.EnteredTime and $$.Task.Token across the attempts
    S3  the queue-driven example (refund-approval.asl.json): create the link, email it, end
    S4  submitted: the waiting example pauses, the reviewer's submission moves it on to RefundApproved
    S5  timedOut: a link that expires, the timeout continuation moves the run on to TimedOut
    S6  a submission recorded before the token is attached: delivered once, on attach
    S7  StopExecution, then the cancel function with EventBridge's event: the link answers Link has expired
    S8  cancel after the submission: too late, with the queued continuation ids
    S9  TaskTimedOut from Step Functions on SendTaskSuccess (scripted): the intervention is marked, never retried
    S10 the task tokens: in no record route answer and no execution output (flow step 15: in no log line)
    S11 CreateApprovalLink's answer lost twice (scripted): 3 attempts, one key, 1 intervention, 1 timer, 1 link;
        the same key with another input: IdempotencyKeyReused, nothing stored
    S12 TaskTimedOut on the attach call's SendTaskHeartbeat (scripted): the run fails (TaskTokenRefused), and
        the cancel function with EventBridge's FAILED event cancels its link

Each counts, on the wire (serve.py's GET /__calls), the AWSStepFunctions.SendTaskSuccess calls made
during it. moto's interpreter needs `execute_state_machine` in its config (flow.py setup sets it), and
every execution is started with a name: moto leaves $$.Execution.Name null without one.
"""

import datetime
import json
import os
import re
import secrets
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ACCOUNT = "123456789012"
SENDER = "refunds@example.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/state-machine"
WAITING = os.path.join(ROOT, "infra", "statemachine", "refund-approval-waiting.asl.json")
QUEUED = os.path.join(ROOT, "infra", "statemachine", "refund-approval.asl.json")
EXAMPLE = os.path.join(ROOT, "infra", "statemachine", "refund-approval.example-input.json")
SEND_TASK_SUCCESS = "AWSStepFunctions.SendTaskSuccess"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


# The IAM caller of the operator's actions in the flow (the records function's requestContext).
OPERATOR_ARN = "arn:aws:iam::123456789012:user/flow-operator"


def decode_email(raw):
    """The text of a MIME email's base64 parts (the product's emails: multipart/alternative)."""
    import base64
    return "".join(
        base64.b64decode("".join(part.split("\r\n\r\n", 1)[1].split("\r\n--", 1)[0].split())).decode()
        for part in raw.split("Content-Transfer-Encoding: base64")[1:]
    )


def harness(method, path, body=None):
    """serve.py's own routes (and moto's /moto-api) on the moto server."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def calls():
    return harness("GET", "/__calls")["counts"]


def setup_moto(client, region):
    """moto's interpreter on and an SES identity for the examples' sender. (No function is created on moto:
    the interpreter invokes an ARN without looking it up, and the bridge answers.)"""
    config = harness("POST", "/moto-api/config", MOTO_CONFIG)  # moto echoes only its batch and lambda parts
    check_lambda = config.get("lambda") == MOTO_CONFIG["lambda"]
    client("ses").verify_email_identity(EmailAddress=SENDER)
    client("sesv2").create_email_identity(EmailIdentity=SENDER)
    if not check_lambda:
        raise RuntimeError(f"moto's config after POST /moto-api/config: {config}")
    return f"moto config {json.dumps(MOTO_CONFIG)} (Step Functions executions run); SES identity {SENDER}"


class Sfn:
    """The Step Functions steps, on a flow.Flow (its port, table, queue, helpers and log needles)."""

    def __init__(self, flow, client, check, invoke, http, region):
        self.flow, self.client, self.check, self.invoke, self.http = flow, client, check, invoke, http
        self.region = region
        self.sfn = client("stepfunctions")
        self.machines = {}
        self.task_tokens = []  # what no log line may hold either
        self.state = {}

    # ------------------------------------------------------------------------------------------ helpers

    def machine(self, name, definition):
        if name not in self.machines:
            self.machines[name] = self.sfn.create_state_machine(
                name=f"{name}-{secrets.token_hex(3)}", definition=definition, roleArn=ROLE)["stateMachineArn"]
        return self.machines[name]

    def example(self, path, **replace):
        with open(path) as f:
            text = f.read()
        text = text.replace("${CreateLinkFunctionArn}",
                            f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:create-link")
        text = text.replace("${SenderEmail}", SENDER)
        for old, new in replace.items():
            self.check(old in text, f"{old!r} is not in {os.path.basename(path)}")
            text = text.replace(old, new)
        return text

    def example_input(self):
        with open(EXAMPLE) as f:
            payload = json.load(f)
        # The examples' links live 24 h, and create-link refuses a link that outlives the run.
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
        payload["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        payload["customer"]["email"] = f"flow-secret-{secrets.token_hex(8)}@example.com"
        self.flow.secrets.append(("customer.email (execution input)", payload["customer"]["email"]))
        return payload

    def start(self, machine_arn, payload):
        name = str(uuid.uuid4())
        arn = self.sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))["executionArn"]
        self.state.setdefault("executions", []).append(arn)
        return arn

    def history(self, arn):
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    @staticmethod
    def by_state(events):
        """[(state name, event)] with each event under the state entered last before it."""
        out, state = [], None
        for event in events:
            entered = event.get("stateEnteredEventDetails")
            if entered:
                state = entered["name"]
            out.append((state, event))
        return out

    def task_events(self, arn, state, kind):
        return [e for s, e in self.by_state(self.history(arn)) if s == state and e["type"] == kind]

    def wait(self, what, predicate, seconds=300):
        deadline = time.monotonic() + seconds
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise self.flow_error(f"{what}: not within {seconds}s")
            time.sleep(0.25)

    def flow_error(self, message):
        try:
            self.check(False, message)
        except Exception as error:  # noqa: BLE001 - flow.StepFailed
            return error

    def ended(self, arn, seconds=120):
        def done():
            described = self.sfn.describe_execution(executionArn=arn)
            return described if described["status"] != "RUNNING" else None
        return self.wait(f"execution {arn.rsplit(':', 1)[-1]} to end", done, seconds)

    def paused(self, arn, seconds=600):
        """Waits until the run is at WaitForDecision with its attach call answered (TaskSubmitted); returns
        (the attach call's output, the task token it carried, the link create-link answered)."""
        def submitted():
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                raise self.flow_error(f"the execution ended {described['status']} before it paused: "
                                      f"{described.get('error')}: {described.get('cause')}")
            return self.task_events(arn, "WaitForDecision", "TaskSubmitted")
        submitted_events = self.wait("the run to pause at WaitForDecision", submitted, seconds)
        attach = json.loads(submitted_events[-1]["taskSubmittedEventDetails"]["output"])["Payload"]
        scheduled = self.task_events(arn, "WaitForDecision", "TaskScheduled")
        token = json.loads(scheduled[-1]["taskScheduledEventDetails"]["parameters"])["Payload"]["taskToken"]
        self.task_tokens.append(token)
        created = self.task_events(arn, "CreateApprovalLink", "TaskSucceeded")
        self.check(len(created) == 1, f"{len(created)} successful CreateApprovalLink tasks")
        output = json.loads(created[0]["taskSucceededEventDetails"]["output"])["Payload"]
        link = output["context"]["approval.url"]
        self.flow.tokens.append(link.rsplit("/i/", 1)[1])
        return attach, token, output, link

    def sts_count(self):
        return calls().get(SEND_TASK_SUCCESS, 0)

    def view_and_submit(self, link, decision, note):
        status, _, page = self.http("GET", link, headers={"Accept": "text/html"})
        self.check(status == 200, f"GET link answered {status}: {page[:300]}")
        found = re.search(r'<input type="hidden" name="_submissionId" value="([^"]+)"', page)
        self.check(found, "no hidden _submissionId on the page")
        submission_id = found.group(1)
        token = link.rsplit("/i/", 1)[1]
        body = urllib.parse.urlencode({"decision": decision, "note": note, "_submissionId": submission_id})
        status, _, page = self.http("POST", f"{self.flow.base}/lambda-url/submission/i/{token}", body.encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.check(status == 200, f"POST answered {status}: {page[:400]}")
        return submission_id

    def publish(self, intervention_id, sk, name):
        self.flow.stream_event(intervention_id, sk, name)
        # Only the item's own record: the others (earlier scenarios' published ones) would be queued again.
        path = self.flow.state[name]
        with open(path) as f:
            records = json.load(f)["Records"]
        own = [r for r in records if r["eventName"] == "INSERT"
               and r["dynamodb"]["NewImage"]["pk"]["S"] == f"I#{intervention_id}"
               and r["dynamodb"]["NewImage"]["sk"]["S"] == sk]
        self.check(len(own) == 1, f"{len(own)} INSERT records of I#{intervention_id} {sk}")
        with open(path, "w") as f:
            json.dump({"Records": own}, f)
        return self.flow.publish(name)

    def sweep(self):
        rc, out, err = self.invoke(self.flow.port, "publisher", self.flow.file("sweep.json", {"sweep": True}))
        self.check(rc == 0, f"cargo lambda invoke publisher (sweep) exited {rc}: {err.strip()[-600:]}")
        return json.loads(out)

    def drain(self):
        """Every message on the queue now (deleted): [(body, attributes)]."""
        sqs = self.client("sqs")
        out = []
        for _ in range(10):
            page = sqs.receive_message(QueueUrl=self.flow.queue_url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"], WaitTimeSeconds=1).get("Messages", [])
            if not page:
                break
            for m in page:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.flow.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return out

    def item(self, intervention_id, sk="I"):
        key = {"pk": {"S": f"I#{intervention_id}"}, "sk": {"S": sk}}
        return self.flow.dynamo.get_item(TableName=self.flow.table, Key=key, ConsistentRead=True).get("Item")

    def items_of(self, intervention_id):
        page = self.flow.dynamo.query(TableName=self.flow.table, KeyConditionExpression="pk = :pk",
                                      ExpressionAttributeValues={":pk": {"S": f"I#{intervention_id}"}},
                                      ConsistentRead=True)
        return page["Items"]

    def expect_expired(self, link):
        status, _, page = self.http("GET", link, headers={"Accept": "text/html"})
        self.check(status == 410 and "Link has expired" in page, f"GET link answered {status}: {page[:300]}")
        return status

    # ------------------------------------------------------------------------------------------ S1
    def bridge(self):
        url = f"http://127.0.0.1:{self.flow.port}"
        set_to = harness("POST", "/__bridge", {"url": url})["url"]
        self.check(set_to == url, f"POST /__bridge answered {set_to}")
        lam = self.client("lambda")
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:create-link"
        answer = lam.invoke(FunctionName=arn, Payload=b'{"unknown": 1}')
        error = json.loads(answer["Payload"].read())
        self.check(answer["StatusCode"] == 200 and answer.get("FunctionError") == "Unhandled"
                   and error.get("errorType") == "InvalidInterventionConfig",
                   f"Invoke via moto answered {answer['StatusCode']} {answer.get('FunctionError')} {error}")
        try:
            lam.invoke(FunctionName="no-such-function", Payload=b"{}")
            self.check(False, "an unknown function was invoked")
        except lam.exceptions.ResourceNotFoundException:
            pass
        return (f"moto → {url}: Invoke of the create-link ARN answered 200, FunctionError Unhandled, errorType "
                f"{error['errorType']} (watch answers 500); an unknown function: ResourceNotFoundException")

    # ------------------------------------------------------------------------------------------ S2
    def retry_context(self):
        """A waitForTaskToken Task whose Lambda call fails twice (scripted function errors) then succeeds:
        the three TaskScheduled events' parameters hold $$.State.EnteredTime, $$.State.RetryCount and
        $$.Task.Token as each attempt saw them."""
        error = {"error": {"errorType": "Flaky", "errorMessage": "scripted: try again"}}
        harness("POST", "/__script", {"key": "Lambda.Invoke/probe",
                                      "responses": [error, error, {"status": 200, "body": {"ok": True}}]})
        definition = {"StartAt": "Probe", "States": {"Probe": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:probe",
                           "Payload": {"entered.$": "$$.State.EnteredTime", "retryCount.$": "$$.State.RetryCount",
                                       "token.$": "$$.Task.Token",
                                       "key.$": "States.Format('{}/{}/{}', $$.Execution.Id, $$.State.Name, $$.State.EnteredTime)"}},
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}],
            "End": True}}}
        before = self.sts_count()
        arn = self.start(self.machine("retry-probe", json.dumps(definition)), {})
        self.wait("the probe's third attempt", lambda: self.task_events(arn, "Probe", "TaskSubmitted"), 60)
        attempts = [json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
                    for e in self.task_events(arn, "Probe", "TaskScheduled")]
        failed = self.task_events(arn, "Probe", "TaskFailed")
        self.check(len(attempts) == 3 and len(failed) == 2, f"{len(attempts)} attempts, {len(failed)} failures")
        self.check([a["retryCount"] for a in attempts] == [0, 1, 2], f"RetryCount {[a['retryCount'] for a in attempts]}")
        entered = {a["entered"] for a in attempts}
        tokens = {a["token"] for a in attempts}
        self.task_tokens.extend(tokens)
        self.check(len(entered) == 1, f"$$.State.EnteredTime changed across the Retry: {sorted(entered)}")
        self.check(len({a["key"] for a in attempts}) == 1, "the idempotency key changed across the Retry")
        self.sfn.send_task_success(taskToken=attempts[-1]["token"], output=json.dumps({"done": True}))
        described = self.ended(arn)
        self.check(described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"done": True},
                   f"the probe ended {described['status']} {described.get('output')}")
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted, expected 1")
        self.state["retry"] = (len(entered) == 1, len(tokens) == 1)
        return (f"3 attempts (RetryCount 0, 1, 2): $$.State.EnteredTime the same in all ({attempts[0]['entered']}), "
                f"so the example's idempotencyKey too; $$.Task.Token "
                f"{'the SAME in all 3 attempts (moto makes it once per state entry)' if len(tokens) == 1 else f'{len(tokens)} different tokens'}; "
                f"SendTaskSuccess with the last attempt's token ended the run; {sent} SendTaskSuccess counted on the wire")

    # ------------------------------------------------------------------------------------------ S3
    def queued_example(self):
        machine = self.machine("refund-queued", self.example(QUEUED))
        arn = self.start(machine, self.example_input())
        described = self.ended(arn, 600)
        self.check(described["status"] == "SUCCEEDED",
                   f"the execution ended {described['status']}: {described.get('error')}: {described.get('cause')}")
        output = json.loads(described["output"])
        states = [e["stateEnteredEventDetails"]["name"] for e in self.history(arn) if "stateEnteredEventDetails" in e]
        self.check(states[-1] == "WaitingForReviewer", f"states {states}")
        meta = self.item(output["interventionId"])
        self.check(meta is not None, f"no intervention item (sk I) of {output['interventionId']}")
        self.check("approvalUrl" not in json.dumps(output), f"the link is in the output: {output}")
        created = self.task_events(arn, "CreateApprovalLink", "TaskSucceeded")
        link = json.loads(created[0]["taskSucceededEventDetails"]["output"])["Payload"]["context"]["approval.url"]
        self.flow.tokens.append(link.rsplit("/i/", 1)[1])
        return (f"SUCCEEDED through {' → '.join(states)}; intervention {output['interventionId']} stored, "
                f"email {output['emailMessageId'][:12]}… sent (SES on moto)")

    # ------------------------------------------------------------------------------------------ S4
    def submitted(self):
        machine = self.machine("refund-waiting", self.example(WAITING))
        before, beats = self.sts_count(), calls().get("AWSStepFunctions.SendTaskHeartbeat", 0)
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        beats = calls().get("AWSStepFunctions.SendTaskHeartbeat", 0) - beats
        self.check(beats == 1, f"{beats} SendTaskHeartbeat for one attach call")
        self.check(attach == {"interventionId": intervention_id, "task": "waiting"}, f"the attach call answered {attach}")
        meta = self.item(intervention_id)
        self.check(meta.get("correlationId", {}).get("S") == arn, f"the intervention item's correlationId: {meta.get('correlationId')}")
        note = f"{self.flow.marker}-sfn"
        submission_id = self.view_and_submit(link, "approve", note)
        self.check(self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING", "the run moved on before the publisher ran")
        self.publish(intervention_id, f"S#{submission_id}", "sfn-submitted-event")
        described = self.ended(arn)
        self.check(described["status"] == "SUCCEEDED", f"the execution ended {described['status']}: "
                                                       f"{described.get('error')}: {described.get('cause')}")
        states = [e["stateEnteredEventDetails"]["name"] for e in self.history(arn) if "stateEnteredEventDetails" in e]
        self.check(states[-1] == "RefundApproved", f"states {states}")
        output = json.loads(described["output"])
        self.check(output.get("outcome") == "submitted" and output.get("context", {}).get("decision") == "approve"
                   and output["context"].get("note") == note and output.get("submissionId") == submission_id
                   and output.get("interventionId") == intervention_id, f"the execution's output {output}")
        self.check("approval.url" not in output.get("context", {}), "the link is in the execution's output")
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted after the first publish, expected 1")
        again = self.flow.publish("sfn-submitted-event")
        swept = self.sweep()
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted after the publisher's retry and a sweep, expected 1")
        messages = self.drain()
        ids = {m["id"] for m in messages}
        self.check(ids == {f"{intervention_id}:{submission_id}"}, f"queued continuation ids {ids}")
        _, record = self.record(intervention_id)
        task = record.get("task") or {}
        self.check(task.get("state") == "delivered" and task.get("continuationId") == f"{intervention_id}:{submission_id}",
                   f"the record's task: {task}")
        self.state.update(submitted_id=intervention_id, submitted_continuation=f"{intervention_id}:{submission_id}",
                          submitted_link=link)
        return (f"paused at WaitForDecision (attach answered task=waiting, 1 SendTaskHeartbeat); approve submitted, published → "
                f"{' → '.join(states[-3:])}, output outcome submitted with decision approve, the note and "
                f"submissionId; SendTaskSuccess {sent} (after a second publish [{again}] and a sweep {swept}); "
                f"SQS: {len(messages)} message(s), all continuation {sorted(ids)[0]}; the record's task state delivered")

    # ------------------------------------------------------------------------------------------ S5
    def timed_out(self):
        # A link of about a second (the example's is 24 h); the rest of the example as it is.
        machine = self.machine("refund-waiting-short", self.example(WAITING, **{'"urlExpirationHours": 24': '"urlExpirationHours": 0.0003'}))
        before = self.sts_count()
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        self.state["timed_out_id"] = intervention_id
        expires = datetime.datetime.fromisoformat(created["expiresAt"].replace("Z", "+00:00"))
        wait = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 0.2
        if wait > 0:
            time.sleep(wait)
        rc, out, err = self.invoke(self.flow.port, "timeout", self.flow.file("sfn-timeout.json", {"interventionId": intervention_id}))
        self.check(rc == 0, f"cargo lambda invoke timeout exited {rc}: {err.strip()[-600:]}")
        self.check(json.loads(out) == {"interventionId": intervention_id, "outcome": "queued"}, f"timeout answered {out}")
        self.publish(intervention_id, "T#timeout", "sfn-timeout-event")
        described = self.ended(arn)
        self.check(described["status"] == "SUCCEEDED", f"the execution ended {described['status']}: "
                                                       f"{described.get('error')}: {described.get('cause')}")
        states = [e["stateEnteredEventDetails"]["name"] for e in self.history(arn) if "stateEnteredEventDetails" in e]
        self.check(states[-1] == "TimedOut", f"states {states}")
        output = json.loads(described["output"])
        self.check(output.get("outcome") == "timedOut" and output.get("id") == f"{intervention_id}:timeout"
                   and output.get("context", {}).get("decision") == "reject", f"the execution's output {output}")
        self.flow.publish("sfn-timeout-event")
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted, expected 1")
        messages = self.drain()
        self.check({m["id"] for m in messages} == {f"{intervention_id}:timeout"}, f"queued {[m['id'] for m in messages]}")
        return (f"attach task={attach.get('task')}; after expiry the timeout function queued, the publisher "
                f"delivered → {states[-1]}, output outcome timedOut with the onTimeout default decision reject; "
                f"SendTaskSuccess {sent} (after a second publish)")

    # ------------------------------------------------------------------------------------------ S6
    def before_attach(self):
        """A run paused at a waitForTaskToken step whose Lambda call is scripted (it attaches nothing): its token
        is attached by hand, with create-link's attach payload, once the submission was published."""
        payload = self.flow.creation_input(correlationId=str(uuid.uuid4()))
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("sfn-early.json", payload))
        link, intervention_id, _, _, _ = self.flow.created(payload, rc, out, err)
        self.state["early_id"] = intervention_id
        before = self.sts_count()
        note = f"{self.flow.marker}-early"
        submission_id = self.view_and_submit(link, "reject", note)
        self.publish(intervention_id, f"S#{submission_id}", "sfn-early-event")
        self.check(self.sts_count() == before, "SendTaskSuccess without a token")
        queued = self.drain()
        self.check([m["id"] for m in queued] == [f"{intervention_id}:{submission_id}"], f"queued {queued}")
        harness("POST", "/__script", {"key": "Lambda.Invoke/hold", "responses": [{"status": 200, "body": {}}]})
        definition = {"StartAt": "WaitForDecision", "States": {"WaitForDecision": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hold", "Payload": {"taskToken.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 600, "TimeoutSeconds": 900, "End": True}}}
        arn = self.start(self.machine("hold", json.dumps(definition)), {})
        self.wait("the holding run to pause", lambda: self.task_events(arn, "WaitForDecision", "TaskSubmitted"), 60)
        scheduled = self.task_events(arn, "WaitForDecision", "TaskScheduled")
        token = json.loads(scheduled[-1]["taskScheduledEventDetails"]["parameters"])["Payload"]["taskToken"]
        self.task_tokens.append(token)
        attach = {"interventionId": intervention_id, "taskToken": token}
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("sfn-attach.json", attach))
        self.check(rc == 0, f"the attach call exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        self.check(answer == {"interventionId": intervention_id, "task": "delivered"}, f"the attach call answered {out}")
        described = self.ended(arn)
        output = json.loads(described.get("output") or "null")
        self.check(described["status"] == "SUCCEEDED" and output.get("outcome") == "submitted"
                   and output.get("context", {}).get("decision") == "reject" and output["context"].get("note") == note,
                   f"the run ended {described['status']} with {output}")
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted, expected 1")
        # The same attach again, the publisher again, a sweep: still one.
        rc, out2, err = self.invoke(self.flow.port, "create-link", self.flow.file("sfn-attach.json", attach))
        self.flow.publish("sfn-early-event")
        self.sweep()
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted after a second attach, publish and sweep, expected 1")
        self.drain()
        second = out2.strip() if rc == 0 else "error " + err.strip()[-200:]
        return (f"submitted and published first (queued, no SendTaskSuccess); the attach answered task=delivered "
                f"and the run ended SUCCEEDED with outcome submitted, decision reject; the same attach again "
                f"answered {second}; SendTaskSuccess {sent}")

    @staticmethod
    def cancelled_only(answer, intervention_id):
        """cancel's output says it cancelled this one intervention and nothing else (an empty `notFound`, the
        function's own addition to the {cancelled, tooLate} of the spec, is allowed)."""
        return (answer.get("cancelled") == [intervention_id] and answer.get("tooLate") == []
                and not answer.get("notFound") and set(answer) <= {"cancelled", "tooLate", "notFound"})

    def status_change(self, described):
        """The event EventBridge sends for an execution's status change (source aws.states), from
        DescribeExecution: what the stack's cancel rule hands the cancel function."""
        millis = lambda t: int(t.timestamp() * 1000) if t else None  # noqa: E731
        status = described["status"]
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT,
            "time": described["stopDate"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [described["executionArn"]],
            "detail": {
                "executionArn": described["executionArn"],
                "stateMachineArn": described["stateMachineArn"],
                "name": described["name"],
                "status": status,
                "startDate": millis(described["startDate"]),
                "stopDate": millis(described.get("stopDate")),
                "input": described["input"],
                "output": described.get("output"),
                "inputDetails": {"included": True},
                "outputDetails": {"included": True} if described.get("output") else None,
                "error": described.get("error"),
                "cause": described.get("cause"),
                "redriveCount": 0,
                "redriveStatus": "NOT_REDRIVABLE" if status == "ABORTED" else "REDRIVABLE",
                "redriveStatusReason": f"Execution is {status} and cannot be redriven" if status == "ABORTED" else None,
            },
        }

    # ------------------------------------------------------------------------------------------ S7
    def stopped(self):
        machine = self.machine("refund-waiting", self.example(WAITING))
        before = self.sts_count()
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        self.state["stopped_id"] = intervention_id
        self.sfn.stop_execution(executionArn=arn, error="Operator", cause="flow test")
        described = self.ended(arn)
        self.check(described["status"] == "ABORTED", f"the stopped run is {described['status']}")
        event = self.status_change(described)
        rc, out, err = self.invoke(self.flow.port, "cancel", self.flow.file("sfn-cancel.json", event))
        self.check(rc == 0, f"cargo lambda invoke cancel exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        self.check(self.cancelled_only(answer, intervention_id), f"cancel answered {out}")
        self.expect_expired(link)
        status, _, page = self.http("POST", link.replace("/lambda-url/form-page/", "/lambda-url/submission/"),
                                    urllib.parse.urlencode({"decision": "approve", "_submissionId": secrets.token_urlsafe(16)}).encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.check(status == 410, f"POST on the cancelled link answered {status}: {page[:300]}")
        kinds = sorted(i["sk"]["S"] for i in self.items_of(intervention_id))
        self.check(not any(k.startswith(("S#", "T#")) for k in kinds), f"items of the intervention: {kinds}")
        timers = self.client("scheduler").list_schedules(GroupName=self.flow.group)["Schedules"]
        self.check(not any(t["Name"] == intervention_id for t in timers), "the cancelled link's timer is still there")
        queued = self.drain() + self.sweep_messages()
        self.check(not queued, f"queued after cancel: {queued}")
        sent = self.sts_count() - before
        self.check(sent == 0, f"{sent} SendTaskSuccess counted")
        return (f"ABORTED; cancel with the EventBridge event answered {json.dumps(answer)}; the link: 410 Link has "
                f"expired (GET), 410 (POST); no timer, no continuation item, nothing queued (and after a sweep), "
                f"no SendTaskSuccess")

    # ------------------------------------------------------------------------------------------ S13
    def operator_cancelled(self):
        """An operator's cancel of a waiting run's intervention fails the run at once with InterventionCancelled."""
        machine = self.machine("refund-waiting", self.example(WAITING))
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        started = time.monotonic()
        request = {"interventionId": intervention_id, "by": "ops@example.com", "reason": "sent to the wrong person"}
        rc, out, err = self.invoke(self.flow.port, "cancel", self.flow.file("sfn-operator-cancel.json", request))
        self.check(rc == 0, f"cargo lambda invoke cancel exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        self.check(self.cancelled_only(answer, intervention_id), f"cancel answered {out}")
        described = self.ended(arn, seconds=30)
        took = time.monotonic() - started
        self.check(described["status"] == "FAILED" and described.get("error") == "InterventionCancelled",
                   f"the run is {described['status']} {described.get('error')}: {described.get('cause')}")
        self.expect_expired(link)
        _, record = self.record(intervention_id)
        self.task_gone(record, "InterventionCancelled")
        actions = record.get("actions", [])
        self.check(len(actions) == 1 and actions[0].get("by") == "ops@example.com"
                   and actions[0].get("reason") == "sent to the wrong person" and actions[0].get("action") == "cancel",
                   f"the record's actions: {actions}")
        return (f"cancel answered {json.dumps(answer)}; the execution FAILED with InterventionCancelled "
                f"{took:.1f} s after the cancel (its heartbeat was 87300 s away); the link 410; the record's task: gone, "
                f"InterventionCancelled; its actions: {json.dumps(actions)}")

    def sweep_messages(self):
        self.sweep()
        return self.drain()

    # ------------------------------------------------------------------------------------------ S8
    def cancel_too_late(self):
        intervention_id = self.state["submitted_id"]
        _, before = self.record(intervention_id)
        rc, out, err = self.invoke(self.flow.port, "cancel", self.flow.file("sfn-cancel-late.json", {"interventionId": intervention_id}))
        self.check(rc == 0, f"cargo lambda invoke cancel exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        late = answer.get("tooLate", [])
        self.check(answer.get("cancelled") == [] and len(late) == 1 and late[0].get("interventionId") == intervention_id
                   and late[0].get("continuationIds") == [self.state["submitted_continuation"]],
                   f"cancel answered {out}")
        _, after = self.record(intervention_id)
        self.check(before.get("state") == after.get("state") == late[0].get("state"),
                   f"the record's state {before.get('state')} → {after.get('state')}, cancel said {late[0].get('state')}")
        return f"{json.dumps(answer)}; the record's state stays {after.get('state')}"

    # ------------------------------------------------------------------------------------------ S9
    def task_gone(self, record, reason):
        task = record.get("task") if isinstance(record, dict) else None
        self.check(isinstance(task, dict) and task.get("state") == "gone" and task.get("reason") == reason,
                   f"the record does not say the run is gone ({reason}): task = {task}")
        return task

    def task_timed_out(self):
        """The publisher's SendTaskSuccess refused with TaskTimedOut (moto would accept it: scripted)."""
        machine = self.machine("refund-waiting", self.example(WAITING))
        before = self.sts_count()
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        self.state["refused_id"] = intervention_id
        refusal = {"status": 400, "body": {"__type": "TaskTimedOut", "message": "Task Timed Out: 'Provided task does not exist anymore'"}}
        harness("POST", "/__script", {"key": SEND_TASK_SUCCESS, "responses": [refusal]})
        submission_id = self.view_and_submit(link, "approve", f"{self.flow.marker}-late")
        self.publish(intervention_id, f"S#{submission_id}", "sfn-refused-event")
        left = harness("GET", "/__script")
        self.check(SEND_TASK_SUCCESS not in left, f"the scripted refusal was not used: {left}")
        status, record = self.record(intervention_id)
        self.check(status == 200, f"the record route answered {status}: {str(record)[:300]}")
        task = self.task_gone(record, "TaskTimedOut")
        self.flow.publish("sfn-refused-event")
        self.sweep()
        sent = self.sts_count() - before
        self.check(sent == 1, f"{sent} SendTaskSuccess counted (the refused one included), expected 1: no retry")
        self.expect_expired(link)
        self.check(self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING", "the run moved on")
        self.sfn.stop_execution(executionArn=arn)
        queued = self.drain()
        return (f"SendTaskSuccess answered TaskTimedOut (scripted once): the record's task {json.dumps(task)}; "
                f"after a second publish and a sweep {sent} SendTaskSuccess in all (no retry); the SQS continuation "
                f"queued all the same ({len(queued)} message(s)); the link answers 410 Link has expired")

    # ------------------------------------------------------------------------------------------ S12
    def heartbeat_refused(self):
        """The attach call's SendTaskHeartbeat refused with TaskTimedOut (scripted): create-link answers
        TaskTokenRefused (the token is not stored), the run ends FAILED in TaskTokenRefused, no retry; the
        cancel function with EventBridge's FAILED event then cancels the link."""
        machine = self.machine("refund-waiting", self.example(WAITING))
        refusal = {"status": 400, "body": {"__type": "TaskTimedOut", "message": "Task Timed Out: 'Provided task does not exist anymore'"}}
        harness("POST", "/__script", {"key": "AWSStepFunctions.SendTaskHeartbeat", "responses": [refusal]})
        beats, sent = calls().get("AWSStepFunctions.SendTaskHeartbeat", 0), self.sts_count()
        arn = self.start(machine, self.example_input())
        described = self.ended(arn, 600)
        states = [e["stateEnteredEventDetails"]["name"] for e in self.history(arn) if "stateEnteredEventDetails" in e]
        self.check(described["status"] == "FAILED" and states[-1] == "TaskTokenRefused",
                   f"the run ended {described['status']} in {states[-1:]}: {described.get('cause')}")
        created = self.task_events(arn, "CreateApprovalLink", "TaskSucceeded")
        output = json.loads(created[0]["taskSucceededEventDetails"]["output"])["Payload"]
        link, intervention_id = output["context"]["approval.url"], output["interventionId"]
        self.flow.tokens.append(link.rsplit("/i/", 1)[1])
        scheduled = self.task_events(arn, "WaitForDecision", "TaskScheduled")
        self.task_tokens.extend(json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["taskToken"] for e in scheduled)
        self.state["heartbeat_id"] = intervention_id
        beats = calls().get("AWSStepFunctions.SendTaskHeartbeat", 0) - beats
        self.check(len(scheduled) == 1 and beats == 1, f"{len(scheduled)} attach calls, {beats} SendTaskHeartbeat: retried")
        _, record = self.record(intervention_id)
        self.check("task" not in record, f"the refused token was attached: {record.get('task')}")
        rc, out, err = self.invoke(self.flow.port, "cancel", self.flow.file("sfn-cancel-failed.json", self.status_change(described)))
        self.check(rc == 0, f"cargo lambda invoke cancel exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        self.check(self.cancelled_only(answer, intervention_id), f"cancel answered {out}")
        self.expect_expired(link)
        self.check(self.sts_count() == sent, "a SendTaskSuccess was sent")
        return (f"the attach call's heartbeat answered TaskTimedOut: TaskTokenRefused → {states[-1]} (FAILED); 1 attach "
                f"call, 1 heartbeat (no retry), no task in the record; cancel with the FAILED event answered "
                f"{json.dumps(answer)}; the link: 410 Link has expired")

    # ------------------------------------------------------------------------------------------ S11
    def creation_retried(self):
        """CreateApprovalLink's answer lost twice on the wire (the function ran each time): the state's Retry calls
        it 3 times with one idempotencyKey; then the same key with another input, directly."""
        machine = self.machine("refund-waiting", self.example(WAITING))
        harness("POST", "/__script", {"key": "Lambda.Invoke/create-link", "responses": [{"lost": True}, {"lost": True}]})
        before_items = self.flow.item_count()
        arn = self.start(machine, self.example_input())
        attach, token, created, link = self.paused(arn)
        intervention_id = created["interventionId"]
        self.state["retried_id"] = intervention_id
        scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
                     for e in self.task_events(arn, "CreateApprovalLink", "TaskScheduled")]
        failed = [e["taskFailedEventDetails"]["error"] for e in self.task_events(arn, "CreateApprovalLink", "TaskFailed")]
        self.check(len(scheduled) == 3 and failed == ["Lambda.ServiceException"] * 2,
                   f"{len(scheduled)} attempts, failures {failed}")
        keys = {p["idempotencyKey"] for p in scheduled}
        self.check(len(keys) == 1, f"{len(keys)} idempotency keys over the attempts: {keys}")
        mine = self.flow.dynamo.query(TableName=self.flow.table, IndexName="byCorrelation",
                                      KeyConditionExpression="correlationId = :c",
                                      ExpressionAttributeValues={":c": {"S": arn}})["Items"]
        ids = {i["pk"]["S"] for i in mine}
        self.check(ids == {f"I#{intervention_id}"}, f"interventions of the execution: {sorted(ids)}")
        timers = [t["Name"] for t in self.client("scheduler").list_schedules(GroupName=self.flow.group)["Schedules"]
                  if t["Name"] == intervention_id]
        self.check(len(timers) == 1, f"{len(timers)} timers of {intervention_id}")
        # The same key with another input: the named error, nothing stored.
        other = dict(scheduled[0], ruleSetId="refund-other")
        count = self.flow.item_count()
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("sfn-reused.json", other))
        self.check(rc != 0 and "IdempotencyKeyReused" in err and "idempotencyKey" in err, f"create-link answered {rc}: {out} {err.strip()[-400:]}")
        self.check(self.flow.item_count() == count, f"the refused creation wrote {self.flow.item_count() - count} items")
        # The same key with the same input, once more: the same answer.
        rc, out, err = self.invoke(self.flow.port, "create-link", self.flow.file("sfn-same.json", scheduled[0]))
        self.check(rc == 0, f"create-link (same key, same input) exited {rc}: {err.strip()[-400:]}")
        again = json.loads(out)
        self.check((again["interventionId"], again["expiresAt"], again["context"]["approval.url"])
                   == (intervention_id, created["expiresAt"], link), f"a fourth creation answered {out[:300]}")
        self.check(self.flow.item_count() == count, "the fourth creation wrote items")
        self.sfn.stop_execution(executionArn=arn)
        return (f"3 attempts of CreateApprovalLink (2 answers lost: Lambda.ServiceException, retried) with one "
                f"idempotencyKey: 1 intervention of the execution (byCorrelation), 1 timer, 1 link; a 4th call with "
                f"the same key and input: the same id, link and expiresAt; the same key with another ruleSetId: "
                f"IdempotencyKeyReused, nothing stored (the run wrote {count - before_items} item)")

    # ------------------------------------------------------------------------------------------ S14
    def extended(self):
        """An operator's extension of a waiting run's intervention: the run heartbeated, still waiting after the
        old expiry; the old link 410, the new one (emailed by the product) decides; one continuation."""
        short = '"urlExpirationHours": 0.003, "notify": {"email.$": "States.Array($.approverEmail)"},'
        machine = self.machine("refund-waiting-extend", self.example(WAITING, **{'"urlExpirationHours": 24,': short}))
        payload = self.example_input()
        payload["approverEmail"] = f"approver-{secrets.token_hex(4)}@example.com"
        arn = self.start(machine, payload)
        _, _, created, old_link = self.paused(arn)
        intervention_id = created["interventionId"]
        before = calls()
        beat = "AWSStepFunctions.SendTaskHeartbeat"
        detail = self.extend_waiting(intervention_id, old_link, payload["approverEmail"],
                                     lambda: self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING")
        beats = calls().get(beat, 0) - before.get(beat, 0)
        self.check(beats == 1, f"{beats} SendTaskHeartbeat for the extension")
        sts = self.sts_count()
        submission_id = self.view_and_submit(detail["new_link"], "approve", f"{self.flow.marker}-extended")
        self.publish(intervention_id, f"S#{submission_id}", "sfn-extended-event")
        described = self.ended(arn)
        self.check(described["status"] == "SUCCEEDED", f"the execution ended {described['status']}")
        output = json.loads(described["output"])
        self.check(output.get("submissionId") == submission_id and output.get("context", {}).get("decision") == "approve",
                   f"the output: {str(output)[:300]}")
        self.sweep()
        self.check(self.sts_count() - sts == 1, f"{self.sts_count() - sts} SendTaskSuccess")
        queued = [m for m in self.drain() if m.get("interventionId") == intervention_id and m.get("outcome") != "reminder"]
        self.check(len({m["id"] for m in queued}) == 1, f"{len(queued)} continuations of {intervention_id} queued")
        continuations = [i for i in self.items_of(intervention_id) if i["sk"]["S"].startswith("S#")]
        self.check(len(continuations) == 1, f"{len(continuations)} submissions recorded")
        return (f"extend answered {detail['answer']}; SendTaskHeartbeat {beats}; {detail['waited']}; "
                f"SUCCEEDED with the new link's submission; SendTaskSuccess 1; 1 submission; actions {detail['actions']}")

    def extend_waiting(self, intervention_id, old_link, to, waiting):
        """Extends by 10 minutes before the old expiry, waits past it, and checks: the run still waits, the old
        link 410, a new email to `to` holds a new link that opens the form."""
        _, record = self.record(intervention_id)
        old_expiry = datetime.datetime.fromisoformat(record["expiresAt"].replace("Z", "+00:00"))
        new_expiry = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(minutes=10)
        self.sweep()  # the request itself goes first (no stream event is handed over here)
        seen = {m["id"] for m in self.ses_sent(to)}
        self.check(len(seen) == 1, f"{len(seen)} request emails to {to} before the extension")
        status, answer = self.operator(intervention_id, "extend", {
            "expiresAt": new_expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": "the reviewer is away"})
        self.check(status == 200 and answer.get("action") == "extend" and answer.get("messageIds"),
                   f"extend answered {status}: {answer}")
        left = (old_expiry - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.check(left > 0, f"the extension came {-left:.1f} s after the old expiry")
        time.sleep(left + 1.0)
        self.check(waiting(), "the run stopped waiting after the old expiry")
        self.expect_expired(old_link)
        self.sweep()
        emails = [m for m in self.ses_sent(to) if m["id"] not in seen]
        links = set()
        for email in emails:
            links |= set(re.findall(r"https?://[^\s\"'<>]+/i/(v1\.[A-Za-z0-9._~-]+)", decode_email(email["raw"])))
        old_token = old_link.rsplit("/i/", 1)[1]
        new = sorted(t for t in links if t != old_token)
        self.check(len(emails) == 1 and len(new) == 1, f"{len(emails)} new emails to {to}, new form links {len(new)}")
        new_link = old_link.rsplit("/i/", 1)[0] + "/i/" + new[0]
        self.flow.tokens.append(new[0])
        _, record = self.record(intervention_id)
        actions = [(a["action"], a["by"], a.get("reason")) for a in record.get("actions", [])]
        self.check(actions == [("extend", OPERATOR_ARN, "the reviewer is away")], f"the record's actions: {actions}")
        return {"answer": json.dumps(answer), "new_link": new_link, "actions": actions,
                "waited": f"{left:.1f} s to the old expiry: still waiting after it, the old link 410, 1 new email "
                          f"with a new link"}

    def ses_sent(self, to):
        status, _, body = self.http("GET", f"{os.environ['AWS_ENDPOINT_URL']}/__ses/sent")
        self.check(status == 200, f"moto's /__ses/sent answered {status}")
        return [m for m in json.loads(body)["sent"] if to in m["destinations"]]

    def operator(self, intervention_id, action, body):
        """An operator's action on the records function, as the HTTP API hands it over with IAM authorisation
        (payload 2.0, the caller's ARN in requestContext.authorizer.iam): (status, JSON)."""
        path = f"/interventions/{intervention_id}/{action}"
        now = datetime.datetime.now(datetime.timezone.utc)
        event = {
            "version": "2.0", "routeKey": f"POST /interventions/{{id}}/{action}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "accept": "application/json", "host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "flow", "domainName": "api.example.com", "domainPrefix": "api",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                         "userAgent": "flow"},
                "authorizer": {"iam": {"accessKey": "AKIAFLOW", "accountId": "123456789012",
                                       "callerId": "AIDAFLOW", "userArn": OPERATOR_ARN, "userId": "AIDAFLOW"}},
                "requestId": secrets.token_hex(8), "routeKey": f"POST /interventions/{{id}}/{action}",
                "stage": "$default", "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "pathParameters": {"id": intervention_id}, "body": json.dumps(body), "isBase64Encoded": False,
        }
        rc, out, err = self.invoke(self.flow.port, "records", self.flow.file(f"operator-{action}.json", event))
        self.check(rc == 0, f"cargo lambda invoke records exited {rc}: {err.strip()[-600:]}")
        answer = json.loads(out)
        text = answer.get("body") or ""
        return answer.get("statusCode"), json.loads(text) if text.startswith("{") else text

    # ------------------------------------------------------------------------------------------ records
    def record(self, intervention_id):
        """The operator's record route (the records function): (status, JSON)."""
        status, _, body = self.http("GET", f"{self.flow.base}/lambda-url/records/interventions/{intervention_id}",
                                    headers={"Accept": "application/json"})
        return status, json.loads(body) if body.startswith("{") else body

    def token_nowhere(self):
        """The task tokens: in no record route answer, no execution output, no queued continuation (the log
        check, flow step 15, looks for them in every line the functions printed)."""
        ids = [self.state[k] for k in ("submitted_id", "refused_id", "stopped_id", "timed_out_id", "early_id", "retried_id",
                                       "heartbeat_id")
               if k in self.state]
        self.check(self.task_tokens, "no task token was seen")
        found = []
        for intervention_id in ids:
            status, record = self.record(intervention_id)
            self.check(status == 200, f"the record route answered {status} for {intervention_id}: {str(record)[:200]}")
            text = json.dumps(record)
            found += [f"record of {intervention_id}" for t in self.task_tokens if t in text]
        for arn in self.state.get("executions", []):
            output = self.sfn.describe_execution(executionArn=arn).get("output") or ""
            found += [f"output of {arn.rsplit(':', 1)[-1]}" for t in self.task_tokens if t in output]
        self.check(not found, f"a task token in: {found}")
        return (f"none of the {len(self.task_tokens)} task tokens in the record route's answers for {len(ids)} "
                f"interventions, nor in {len(self.state.get('executions', []))} executions' outputs")

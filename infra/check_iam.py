"""Least-privilege and secret-handling checks of infra/template.yaml (plain Python, no pytest).

Every function's role must allow exactly the actions its code makes, on exactly its resources, and
every function gets exactly the environment its code reads; no policy may use a wildcard action or
`Resource: "*"`, except for the task-token actions, which IAM's Service Authorization Reference lists
with no resource type (checked against cfn-lint's copy of it); the link signing keys must never be in
the template (only the name of the SSM parameter that holds them); the operator's record routes are
IAM-authorized, the link pages public; each example state machine's role invokes exactly the functions
its ASL calls; the cancel rule passes only the execution ends that leave a link behind, to the cancel
function only, with its dead-letter queue open to that rule only; the byCorrelation index is keyed by
correlationId.

Usage: python infra/check_iam.py [template]   Last line: "N passed, N failed"; exit 1 on a failure.
"""

import json
import re
import sys
from pathlib import Path

import cfnlint
from cfnlint.decode import decode

INFRA = Path(__file__).resolve().parent
REPO = INFRA.parent

PARAMETER_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SigningKeysParameterName}"
ANY_KMS_KEY_HERE = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"


def own_logs(log_group):
    return {"logs:CreateLogStream": {f"{log_group}.Arn"}, "logs:PutLogEvents": {f"{log_group}.Arn"}}


SIGNING_KEYS = {"ssm:GetParameter": {PARAMETER_ARN}, "kms:Decrypt": {ANY_KMS_KEY_HERE}}
# The reviewers' channels: the publisher holds the secrets; create-link knows only what an input may name.
SES_IDENTITIES = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"
SLACK_TOKEN_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SlackBotTokenParameterName}"
TEAMS_WEBHOOKS_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${TeamsWebhooksParameterName}"
SCHEDULES_IN_GROUP = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${TimeoutScheduleGroup}/*"
ENVIRONMENT_INDEX = "${Table.Arn}/index/byEnvironment"
CORRELATION_INDEX = "${Table.Arn}/index/byCorrelation"
# Task tokens are not IAM resources: these actions support no resource-level permissions, so "*" is
# their only valid Resource (checked below against the Service Authorization Reference's data).
TASK_TOKEN_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskHeartbeat", "states:SendTaskFailure"}
# Receipts (receipts_from_env): KMS signs with the template's key, and form-page reads its public half.
RECEIPT_ENV = {"RECEIPT_KMS_KEY_IDS": "ReceiptKey.Arn"}
SIGN_RECEIPTS = {"kms:Sign": {"ReceiptKey.Arn"}}
TIMEOUT_FUNCTION_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-timeout"
# The durable example's executions (infra/examples/durable_approval.py): Lambda authorises the durable execution
# APIs (checkpoints, callbacks) against a durable execution's ARN, which extends the qualified function ARN;
# ":*" matches every version's, an unqualified ARN none.
DURABLE_EXECUTIONS = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-durable-approval:*"

# Environment variables beyond the Globals (TABLE_NAME, LOG_LEVEL, ENVIRONMENT_NAME), exactly, as
# `describe` renders them; ANY: set, any value.
ANY = object()
CHANNELS_ENV = {"EMAIL_FROM": "Ref:SenderEmail", "SLACK_ENABLED": ANY, "TEAMS_CHANNELS": "Ref:TeamsChannels"}
LINKS_ENV = {"LINK_BASE_URL": ANY, "LINK_SIGNING_KEYS_PARAMETER": "Ref:SigningKeysParameterName"}
# scheduler_from_env: all three or none, TIMEOUT_DLQ_ARN optional (set: failed timers are kept).
SCHEDULER_ENV = {
    "SCHEDULE_GROUP": "Ref:TimeoutScheduleGroup",
    "TIMEOUT_FUNCTION_ARN": TIMEOUT_FUNCTION_ARN,
    "SCHEDULER_ROLE_ARN": "SchedulerRole.Arn",
    "TIMEOUT_DLQ_ARN": "TimeoutDeadLetterQueue.Arn",
}

# function resource -> (cargo binary, {action: {resources}}, {extra environment}), from the code:
#   create-link: DynamoStore::create = PutItem; with onTimeout, EventBridgeScheduler::schedule =
#                CreateSchedule in the group (UpdateSchedule when a retried creation finds the timer of
#                its first attempt), passing SchedulerRole (iam:PassRole). A repeated idempotencyKey
#                reads the intervention it made (GetItem). Attaching a waiting run's task token
#                ({interventionId, taskToken}): GetItem (the intervention), Query (a continuation recorded
#                before), UpdateItem (store the token, claim and mark the delivery), SendTaskHeartbeat
#                (prove the token), SendTaskSuccess (deliver an earlier continuation at once, signed:
#                kms:Sign); a durable execution's callback id ({interventionId, callbackId}): the same with
#                SendDurableExecutionCallbackHeartbeat and ...Success, on the durable example's executions.
#   form-page:   Service::view = GetItem (the intervention; a GET never writes); the receipt keys route:
#                kms:GetPublicKey.
#   submission:  GetItem (intervention, repeated submission) + TransactWriteItems, which IAM authorises
#                per contained item: Update (count the use, the allowance) and Put (the submission);
#                after the first accepted submission, EventBridgeScheduler::unschedule = DeleteSchedule.
#   publisher:   the stream (event source mapping), SendMessageBatch (= sqs:SendMessage), UpdateItem
#                (mark published), and the mapping's on-failure destination (sqs:SendMessage); the
#                outbox sweep ({"sweep": true} every 5 minutes): Query on the outbox index + GetItem;
#                a waiting run's first continuation: SendTaskSuccess (the token is on the intervention), or
#                SendDurableExecutionCallbackSuccess for a durable execution's callback (the example's);
#                every continuation signed: kms:Sign. Messages to reviewers: SES v2 SendEmail (authorised as
#                ses:SendEmail and ses:SendRawEmail, from the configured identity), the Slack token and
#                the Teams webhooks from SSM SecureStrings (ssm:GetParameter, kms:Decrypt through SSM), a
#                message's claim and settlement (UpdateItem), an intervention's messages and submissions
#                to edit its Slack messages (Query on the table), the outbox index's message parts.
#   timeout:     GetItem (the intervention) + the timeout TransactWriteItems: Update (timedOutAt, the
#                allowance) and Put (T#timeout); its asynchronous on-failure destination (sqs:SendMessage).
#                The reminder: the request messages it copies for the reviewers who have not answered
#                (Query on the table), put in its transaction (Put).
#   records:     GetItem (the intervention), Query on the table (its submissions, begins_with S#) and
#                on the byEnvironment index (the listing). An operator's action (cancel, expire, resend,
#                extend): its TransactWriteItems (Update the intervention and the allowance, Put its entry,
#                messages and an expiry's continuation), DeleteSchedule (expire, cancel) and UpdateSchedule
#                (extend moves the timeout timer, passing SchedulerRole), SendTaskFailure (cancel) and
#                SendTaskHeartbeat (extend), for a durable execution's callback SendDurableExecutionCallbackFailure
#                and ...Heartbeat (the durable example's), the signing keys (extend signs new links).
#   cancel:      Query on the byCorrelation index (the interventions of an execution), GetItem (each),
#                an operator's cancel fails a waiting run's task (SendTaskFailure, or
#                SendDurableExecutionCallbackFailure for the durable example's callback, under the
#                delivery's claim: UpdateItem),
#                Query on the table (the continuations already queued: "too late"), the cancel
#                TransactWriteItems: Update (cancel) and Put (its decision log entry), DeleteSchedule (its
#                timer); its asynchronous on-failure destination (sqs:SendMessage).
#   log-export:  Query on the byEnvironment index (the environment's interventions) and on the table (each
#                one's entries, the last checkpoint), PutItem (the next checkpoint), PutObject (the export).
EXPECTED = {
    "CreateLinkFunction": (
        "create-link",
        {
            **own_logs("CreateLinkLogGroup"),
            "dynamodb:PutItem": {"Table.Arn"},
            "dynamodb:GetItem": {"Table.Arn"},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:Query": {"Table.Arn"},
            **SIGNING_KEYS,
            "scheduler:CreateSchedule": {SCHEDULES_IN_GROUP},
            "scheduler:UpdateSchedule": {SCHEDULES_IN_GROUP},
            "iam:PassRole": {"SchedulerRole.Arn"},
            "states:SendTaskHeartbeat": {"*"},
            "states:SendTaskSuccess": {"*"},
            "lambda:SendDurableExecutionCallbackHeartbeat": {DURABLE_EXECUTIONS},
            "lambda:SendDurableExecutionCallbackSuccess": {DURABLE_EXECUTIONS},
            **SIGN_RECEIPTS,
        },
        {**LINKS_ENV, **SCHEDULER_ENV, **RECEIPT_ENV, **CHANNELS_ENV},
    ),
    "FormPageFunction": (
        "form-page",
        {
            **own_logs("FormPageLogGroup"),
            "dynamodb:GetItem": {"Table.Arn"},
            **SIGNING_KEYS,
            "kms:GetPublicKey": {"ReceiptKey.Arn"},
        },
        {**LINKS_ENV, **RECEIPT_ENV},
    ),
    "SubmissionFunction": (
        "submission",
        {
            **own_logs("SubmissionLogGroup"),
            "dynamodb:GetItem": {"Table.Arn"},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:PutItem": {"Table.Arn"},
            **SIGNING_KEYS,
            "scheduler:DeleteSchedule": {SCHEDULES_IN_GROUP},
        },
        {**LINKS_ENV, **SCHEDULER_ENV},
    ),
    "PublisherFunction": (
        "publisher",
        {
            **own_logs("PublisherLogGroup"),
            "dynamodb:DescribeStream": {"Table.StreamArn"},
            "dynamodb:GetRecords": {"Table.StreamArn"},
            "dynamodb:GetShardIterator": {"Table.StreamArn"},
            "dynamodb:ListStreams": {"${Table.Arn}/stream/*"},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:GetItem": {"Table.Arn"},
            "sqs:SendMessage": {"ContinuationQueue.Arn", "PublisherFailureQueue.Arn"},
            "states:SendTaskSuccess": {"*"},
            "lambda:SendDurableExecutionCallbackSuccess": {DURABLE_EXECUTIONS},
            **SIGN_RECEIPTS,
            "dynamodb:Query": {"${Table.Arn}/index/outbox", "Table.Arn"},
            "ses:SendEmail": {SES_IDENTITIES},
            "ses:SendRawEmail": {SES_IDENTITIES},
            "ssm:GetParameter": {SLACK_TOKEN_ARN, TEAMS_WEBHOOKS_ARN},
            "kms:Decrypt": {ANY_KMS_KEY_HERE},
        },
        {
            "QUEUE_URL": "Ref:ContinuationQueue",
            **RECEIPT_ENV,
            "EMAIL_FROM": "Ref:SenderEmail",
            "SLACK_BOT_TOKEN_PARAMETER": "Ref:SlackBotTokenParameterName",
            "TEAMS_WEBHOOKS_PARAMETER": "Ref:TeamsWebhooksParameterName",
        },
    ),
    "TimeoutFunction": (
        "timeout",
        {
            **own_logs("TimeoutLogGroup"),
            "dynamodb:GetItem": {"Table.Arn"},
            "dynamodb:Query": {"Table.Arn"},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:PutItem": {"Table.Arn"},
            "sqs:SendMessage": {"TimeoutDeadLetterQueue.Arn"},
        },
        {},
    ),
    "RecordsFunction": (
        "records",
        {
            **own_logs("RecordsLogGroup"),
            "dynamodb:GetItem": {"Table.Arn"},
            "dynamodb:Query": {"Table.Arn", ENVIRONMENT_INDEX},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:PutItem": {"Table.Arn"},
            "scheduler:UpdateSchedule": {SCHEDULES_IN_GROUP},
            "scheduler:DeleteSchedule": {SCHEDULES_IN_GROUP},
            "iam:PassRole": {"SchedulerRole.Arn"},
            "states:SendTaskFailure": {"*"},
            "states:SendTaskHeartbeat": {"*"},
            "lambda:SendDurableExecutionCallbackFailure": {DURABLE_EXECUTIONS},
            "lambda:SendDurableExecutionCallbackHeartbeat": {DURABLE_EXECUTIONS},
            **SIGNING_KEYS,
        },
        {**LINKS_ENV, **SCHEDULER_ENV, **CHANNELS_ENV},
    ),
    "CancelFunction": (
        "cancel",
        {
            **own_logs("CancelLogGroup"),
            "dynamodb:Query": {CORRELATION_INDEX, "Table.Arn"},
            "dynamodb:GetItem": {"Table.Arn"},
            "dynamodb:UpdateItem": {"Table.Arn"},
            "dynamodb:PutItem": {"Table.Arn"},
            "scheduler:DeleteSchedule": {SCHEDULES_IN_GROUP},
            "sqs:SendMessage": {"CancelDeadLetterQueue.Arn"},
            "states:SendTaskFailure": {"*"},
            "lambda:SendDurableExecutionCallbackFailure": {DURABLE_EXECUTIONS},
        },
        SCHEDULER_ENV,
    ),
    "LogExportFunction": (
        "log-export",
        {
            **own_logs("LogExportLogGroup"),
            "dynamodb:Query": {ENVIRONMENT_INDEX, "Table.Arn"},
            "dynamodb:PutItem": {"Table.Arn"},
            "s3:PutObject": {"${DecisionLogBucket.Arn}/*"},
            "kms:GetPublicKey": {"ReceiptKey.Arn"},
        },
        {"LOG_BUCKET": "Ref:DecisionLogBucket", **RECEIPT_ENV},
    ),
}

# Crates the template may deploy before functions/ has them (work on two branches at once); none now.
NOT_YET_MERGED: set[str] = set()

OTHER_ROLES = {
    # EventBridge Scheduler firing a timer: invoke the timeout function, dead-letter what it cannot.
    "SchedulerRole": {
        "lambda:InvokeFunction": {"TimeoutFunction.Arn"},
        "sqs:SendMessage": {"TimeoutDeadLetterQueue.Arn"},
    },
    # The example state machines: create-link only (create, and for the waiting one the attach call of
    # its .waitForTaskToken step), and SES for the sender's identity.
    **{
        role: {
            "lambda:InvokeFunction": {"CreateLinkFunction.Arn"},
            "ses:SendEmail": {
                "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}",
                "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Domain}",
            },
        }
        for role in ("RefundApprovalStateMachineRole", "RefundApprovalWaitingStateMachineRole")
    },
}

# Which IAM action each service integration of the example state machines makes.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::lambda:invoke": "lambda:InvokeFunction",
    "arn:aws:states:::lambda:invoke.waitForTaskToken": "lambda:InvokeFunction",
    "arn:aws:states:::aws-sdk:sesv2:sendEmail": "ses:SendEmail",
}
# The execution ends after which a link is left behind: the cancel rule passes exactly these.
CANCEL_STATUSES = {"ABORTED", "FAILED", "TIMED_OUT"}

CONSUMER_POLICY = {
    action: {"ContinuationQueue.Arn"}
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
}

# The operator's read access: exactly the two record routes, nothing else on the API.
EXECUTE_API = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"
RECORDS_READER_POLICY = {
    "execute-api:Invoke": {f"{EXECUTE_API}/GET/interventions", f"{EXECUTE_API}/GET/interventions/*"},
}
INTERVENTION_OPERATOR_POLICY = {
    "execute-api:Invoke": {
        f"{EXECUTE_API}/POST/interventions/*/{action}" for action in ("cancel", "expire", "resend", "extend")
    },
}
# Which routes are IAM-authorized (the rest are the public link pages), and the function behind each.
RECORDS_ROUTES = {"/interventions", "/interventions/{id}"} | {
    f"/interventions/{{id}}/{action}" for action in ("cancel", "expire", "resend", "extend")
}

# What `LinkKeys::parse` accepts as a key: `kid:base64secret`, with a secret of 16 bytes or more, which
# (unlike an IAM action such as `sqs:ChangeMessageVisibility`) mixes cases with digits or + /.
KEY_SPEC = re.compile(r"(?<![A-Za-z0-9:$])[A-Za-z0-9_.-]{1,64}:([A-Za-z0-9+/_-]{22,}={0,2})(?![A-Za-z0-9+/=])")


def looks_like_key(match):
    secret = match.group(1)
    return bool(re.search(r"[a-z]", secret) and re.search(r"[A-Z]", secret) and re.search(r"[0-9+/]", secret))

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


def as_list(value):
    return value if isinstance(value, list) else [value]


def branches(value):
    """Both branches of an Fn::If (either may hold at deploy time); AWS::NoValue is nothing."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return [b for branch in value["Fn::If"][1:] for b in branches(branch)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def describe(resource):
    """A resource as a comparable string: `Table.Arn`, `Ref:Name`, or a Sub's text."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        return ".".join(target) if isinstance(target, list) else target
    if isinstance(resource, dict) and "Ref" in resource:
        return "Ref:" + resource["Ref"]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return json.dumps(resource, sort_keys=True)


def statements(document):
    for policy_document in branches(document):
        for statement in as_list(policy_document.get("Statement", [])):
            yield from branches(statement)


def role_statements(role):
    for policy in as_list(role.get("Properties", {}).get("Policies", [])):
        for policy in branches(policy):
            yield from statements(policy["PolicyDocument"])


def grants(statement_list):
    """{action: {resource}} of the Allow statements."""
    granted = {}
    for statement in statement_list:
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            for resource in as_list(statement.get("Resource", [])):
                for resource in branches(resource):
                    granted.setdefault(action, set()).add(describe(resource))
    return granted


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def resource_types(action):
    """The resource types IAM's Service Authorization Reference lists for an action (cfn-lint's copy of
    it, Policies.json); empty: the action supports no resource-level permissions, only "*"."""
    service, _, name = action.partition(":")
    data = policies_data().get(service.lower(), {}).get("Actions", {})
    if name.lower() not in data:
        raise KeyError(f"{action} is not in cfn-lint's IAM data")
    return data[name.lower()].get("Resources", [])


_POLICIES = {}


def policies_data():
    if not _POLICIES:
        path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
        _POLICIES.update(json.loads(path.read_text()))
    return _POLICIES


def compare(name, granted, expected):
    missing = {a: sorted(r - granted.get(a, set())) for a, r in expected.items() if r - granted.get(a, set())}
    extra = {a: sorted(r - expected.get(a, set())) for a, r in granted.items() if r - expected.get(a, set())}
    check(
        f"{name}: exactly the expected actions on exactly the expected resources",
        not missing and not extra,
        f"missing {missing}, extra {extra}",
    )


def check_correlation_index(resources):
    """The cancel function's index: interventions by correlationId, keys only."""
    props = resources.get("Table", {}).get("Properties", {})
    index = next((i for i in props.get("GlobalSecondaryIndexes", []) if i.get("IndexName") == "byCorrelation"), None)
    check(
        "Table: index byCorrelation, hash key correlationId alone, KEYS_ONLY",
        index is not None
        and index.get("KeySchema") == [{"AttributeName": "correlationId", "KeyType": "HASH"}]
        and index.get("Projection") == {"ProjectionType": "KEYS_ONLY"},
        index,
    )
    types = {a.get("AttributeName"): a.get("AttributeType") for a in props.get("AttributeDefinitions", [])}
    check("Table: correlationId is a string attribute", types.get("correlationId") == "S", types)
    keyed = {k["AttributeName"] for k in props.get("KeySchema", [])} | {
        k["AttributeName"] for i in props.get("GlobalSecondaryIndexes", []) for k in i.get("KeySchema", [])
    }
    check("Table: every attribute definition is a key (CloudFormation refuses others)", set(types) == keyed, (types, keyed))


def check_log_export_rule(resources):
    """The log export runs on a schedule only, to the log export function only, with the environments named."""
    rule = resources.get("LogExportRule", {}).get("Properties", {})
    targets = rule.get("Targets", [])
    check(
        "log export rule: a schedule (no event pattern), one target, the log export function",
        "ScheduleExpression" in rule
        and "EventPattern" not in rule
        and len(targets) == 1
        and describe(targets[0].get("Arn")) == "LogExportFunction.Arn"
        and "Input" in targets[0],
        rule,
    )
    check("log export rule: enabled only with environments to export", rule.get("State", {}).get("Fn::If", [None])[0] == "ExportsLog", rule.get("State"))


def check_cancel_rule(resources):
    """EventBridge passes the execution ends that leave a link behind to the cancel function, only."""
    rules = {n: r for n, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    check(
        "two EventBridge rules: CancelOnExecutionEndRule and the log export's LogExportRule",
        sorted(rules) == ["CancelOnExecutionEndRule", "LogExportRule"],
        list(rules),
    )
    rule = rules.get("CancelOnExecutionEndRule", {}).get("Properties", {})
    pattern = rule.get("EventPattern", {})
    check(
        "cancel rule: Step Functions execution status changes only",
        pattern.get("source") == ["aws.states"]
        and pattern.get("detail-type") == ["Step Functions Execution Status Change"]
        and set(pattern) == {"source", "detail-type", "detail"}
        and "EventBusName" not in rule,
        pattern,
    )
    details = branches(pattern.get("detail"))
    check(
        "cancel rule: exactly the statuses ABORTED, FAILED, TIMED_OUT (every scope)",
        details and all(sorted(d.get("status", [])) == sorted(CANCEL_STATUSES) for d in details),
        details,
    )
    scoped = [d.get("stateMachineArn") for d in details if "stateMachineArn" in d]
    check(
        "cancel rule: scoped to the waiting example's ARN, or to the whole account",
        all(set(d) <= {"status", "stateMachineArn"} for d in details)
        and all([describe(a) for a in arns] == ["Ref:RefundApprovalWaitingStateMachine"] for arns in scoped),
        details,
    )
    condition = pattern.get("detail", {}).get("Fn::If", [None])[0] if "Fn::If" in pattern.get("detail", {}) else None
    check(
        "cancel rule: the example scope only when the example exists (CancelForWaitingExampleOnly)",
        not scoped or condition == "CancelForWaitingExampleOnly",
        condition,
    )
    targets = rule.get("Targets", [])
    target = targets[0] if len(targets) == 1 else {}
    check("cancel rule: one target, the cancel function", describe(target.get("Arn")) == "CancelFunction.Arn", targets)
    check(
        "cancel rule: the whole event goes to the function (no Input, InputPath or transformer)",
        not {"Input", "InputPath", "InputTransformer"} & set(target),
        target,
    )
    retry = target.get("RetryPolicy", {})
    check(
        "cancel rule: a retry policy and a dead-letter queue (CancelDeadLetterQueue)",
        retry.get("MaximumRetryAttempts", 0) > 0
        and retry.get("MaximumEventAgeInSeconds", 0) > 0
        and describe(target.get("DeadLetterConfig", {}).get("Arn")) == "CancelDeadLetterQueue.Arn",
        target,
    )
    check("cancel rule: no role (Lambda targets use the function's resource policy)", "RoleArn" not in target, target)
    permissions = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"].get("Principal") == "events.amazonaws.com"
        and describe(r["Properties"].get("FunctionName")) != "Ref:LogExportFunction"
    ]
    check(
        "cancel rule: EventBridge may invoke the cancel function (one permission, SourceArn the rule)",
        len(permissions) == 1
        and describe(permissions[0].get("FunctionName")) == "Ref:CancelFunction"
        and describe(permissions[0].get("SourceArn")) == "CancelOnExecutionEndRule.Arn",
        permissions,
    )
    function = resources.get("CancelFunction", {}).get("Properties", {})
    invoke = function.get("EventInvokeConfig", {})
    check(
        "the cancel function's failed invocations go to the cancel dead-letter queue",
        describe(invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")) == "CancelDeadLetterQueue.Arn",
        invoke,
    )
    queue = resources.get("CancelDeadLetterQueue", {}).get("Properties", {})
    check("the cancel dead-letter queue is a standard queue (EventBridge dead-letters to no FIFO queue)", not queue.get("FifoQueue"), queue)
    alarms = {
        describe(d.get("Value"))
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for d in r["Properties"].get("Dimensions", [])
    }
    check(
        "alarms on the cancel function, its dead-letter queue and the rule",
        {"Ref:CancelFunction", "CancelDeadLetterQueue.QueueName", "Ref:CancelOnExecutionEndRule"} <= alarms,
        sorted(alarms),
    )


def check_queue_policies(resources):
    """Every queue has one policy (a second would replace it) denying plain HTTP; only the cancel
    dead-letter queue lets a service in: EventBridge, sqs:SendMessage, for the cancel rule only."""
    queues = sorted(n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue")
    governed = [
        describe(q)
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy"
        for q in as_list(r["Properties"].get("Queues", []))
    ]
    check("every queue has exactly one queue policy", sorted(governed) == sorted(f"Ref:{q}" for q in queues), (queues, governed))
    for name, resource in resources.items():
        if resource["Type"] != "AWS::SQS::QueuePolicy":
            continue
        statement_list = list(statements(resource["Properties"]["PolicyDocument"]))
        denies = [
            s
            for s in statement_list
            if s.get("Effect") == "Deny"
            and s.get("Action") == "sqs:*"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        covered = {describe(r) for s in denies for r in as_list(s.get("Resource", []))}
        own = {f"{describe(q)[4:]}.Arn" for q in as_list(resource["Properties"].get("Queues", []))}
        check(f"{name}: denies plain HTTP on each of its queues", own <= covered, (own, covered))
        allows = [s for s in statement_list if s.get("Effect") == "Allow"]
        if name != "CancelDeadLetterQueuePolicy":
            check(f"{name}: allows nothing", not allows, allows)
            continue
        check(
            f"{name}: EventBridge may send to it, for the cancel rule only",
            len(allows) == 1
            and allows[0].get("Principal") == {"Service": "events.amazonaws.com"}
            and allows[0].get("Action") == "sqs:SendMessage"
            and describe(allows[0].get("Resource")) == "CancelDeadLetterQueue.Arn"
            and {k: describe(v) for k, v in (allows[0].get("Condition") or {}).get("ArnEquals", {}).items()}
            == {"aws:SourceArn": "CancelOnExecutionEndRule.Arn"}
            and set(allows[0].get("Condition") or {}) == {"ArnEquals"},
            allows,
        )


def task_states(definition):
    """Every Task state of a definition, nested (Parallel branches, Map iterators) included."""
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Task":
            yield state
        for branch in state.get("Branches", []) + [state.get("ItemProcessor") or state.get("Iterator") or {}]:
            yield from task_states(branch)


def check_durable_example(resources):
    """The durable example: a durable function (DurableConfig) that outlives its callback's longest wait, with
    its own role: invoke create-link, checkpoint its own executions, its own logs; nothing else. The product
    answers its callbacks (publisher: success, cancel: failure) on its executions only (DURABLE_EXECUTIONS,
    in EXPECTED)."""
    function = resources.get("DurableApprovalFunction", {})
    props = function.get("Properties", {})
    check("DurableApprovalFunction exists, with the waiting examples (HasSenderEmail)",
          function.get("Type") == "AWS::Serverless::Function" and function.get("Condition") == "HasSenderEmail")
    name = describe(props.get("FunctionName"))
    check("DurableApprovalFunction: its name is the one DURABLE_EXECUTIONS grants on",
          DURABLE_EXECUTIONS == f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}:*", name)
    durable = props.get("DurableConfig", {})
    # The callback waits the link's 24 h + 20 min at most (durable_approval.py's TIMEOUT_MARGIN_SECONDS).
    check("DurableApprovalFunction: DurableConfig, its ExecutionTimeout above the callback's longest wait",
          isinstance(durable.get("ExecutionTimeout"), int) and durable["ExecutionTimeout"] > 24 * 3600 + 20 * 60
          and 1 <= durable.get("RetentionPeriodInDays", 14) <= 90, durable)
    check("DurableApprovalFunction: a Python runtime that ships the durable execution SDK (3.13+)",
          props.get("Runtime") in ("python3.13", "python3.14") and props.get("Handler") == "durable_approval.handler"
          and (INFRA / props.get("CodeUri", "") / "durable_approval.py").is_file(), props.get("Runtime"))
    env = props.get("Environment", {}).get("Variables", {})
    check("DurableApprovalFunction: CREATE_LINK_FUNCTION is create-link",
          describe(env.get("CREATE_LINK_FUNCTION")) == "CreateLinkFunction.Arn", env)
    role_name = (props.get("Role", {}).get("Fn::GetAtt") or ["?"])[0]
    role = resources.get(role_name, {})
    check("DurableApprovalFunction has its own role, no managed policies, no SAM policies",
          role.get("Type") == "AWS::IAM::Role" and not role.get("Properties", {}).get("ManagedPolicyArns")
          and "Policies" not in props, role_name)
    users = [n for n, r in resources.items() if r.get("Properties", {}).get("Role") == props.get("Role")]
    check(f"{role_name} serves DurableApprovalFunction only", users == ["DurableApprovalFunction"], users)
    compare(f"DurableApprovalFunction ({role_name})", grants(role_statements(role)), {
        **own_logs("DurableApprovalLogGroup"),
        "lambda:InvokeFunction": {"CreateLinkFunction.Arn"},
        "lambda:CheckpointDurableExecution": {DURABLE_EXECUTIONS},
        "lambda:GetDurableExecutionState": {DURABLE_EXECUTIONS},
    })


def check_state_machine_roles(resources, path):
    """Each state machine's role allows exactly what its ASL's tasks do: lambda:InvokeFunction on exactly
    the functions its Lambda tasks name (lambda:invoke and lambda:invoke.waitForTaskToken, through the
    DefinitionSubstitutions), ses:SendEmail for its SES task; no other integration."""
    machines = {n: r for n, r in resources.items() if r["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")}
    check(
        "both example state machines are in the template",
        {"RefundApprovalStateMachine", "RefundApprovalWaitingStateMachine"} <= set(machines),
        sorted(machines),
    )
    for name, machine in machines.items():
        props = machine["Properties"]
        uri = props.get("DefinitionUri")
        definition = json.loads((path.parent / uri).read_text()) if isinstance(uri, str) else props.get("Definition", {})
        substitutions = props.get("DefinitionSubstitutions", {})
        role_name = describe(props.get("Role")).split(".")[0]
        role = resources.get(role_name, {})
        check(f"{name}: its own role ({role_name})", role.get("Type") == "AWS::IAM::Role" and "Policies" not in props, props.get("Role"))
        users = [n for n, r in machines.items() if describe(r["Properties"].get("Role")) == describe(props.get("Role"))]
        check(f"{role_name} serves {name} only", users == [name], users)
        trust = list(statements(role.get("Properties", {}).get("AssumeRolePolicyDocument", {})))
        check(
            f"{role_name}: trusted by states.amazonaws.com of this account only",
            [s.get("Principal") for s in trust] == [{"Service": "states.amazonaws.com"}]
            and trust[0].get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount") == {"Ref": "AWS::AccountId"},
            trust,
        )
        needed = {}
        unknown = []
        for task in task_states(definition):
            action = INTEGRATION_ACTIONS.get(task.get("Resource"))
            if action is None:
                unknown.append(task.get("Resource"))
                continue
            if action == "lambda:InvokeFunction":
                placeholder = re.fullmatch(r"\$\{(\w+)\}", str(task.get("Parameters", {}).get("FunctionName", "")))
                target = substitutions.get(placeholder.group(1)) if placeholder else None
                check(
                    f"{name}: {task.get('Resource').rsplit(':', 1)[-1]} names a function of this template",
                    isinstance(target, dict) and describe(target).endswith("Function.Arn"),
                    task.get("Parameters", {}).get("FunctionName"),
                )
                needed.setdefault(action, set()).add(describe(target))
            else:
                needed.setdefault(action, set())
        check(f"{name}: only the Lambda and SES integrations", not unknown, unknown)
        waits = [t for t in task_states(definition) if t.get("Resource", "").endswith(".waitForTaskToken")]
        for wait in waits:
            placeholder = re.fullmatch(r"\$\{(\w+)\}", str(wait.get("Parameters", {}).get("FunctionName", "")))
            check(
                f"{name}: its .waitForTaskToken step attaches the token through create-link",
                placeholder and describe(substitutions.get(placeholder.group(1))) == "CreateLinkFunction.Arn",
                wait.get("Parameters"),
            )
        granted = grants(role_statements(role))
        check(
            f"{role_name}: invokes exactly the functions its ASL calls",
            granted.get("lambda:InvokeFunction", set()) == needed.get("lambda:InvokeFunction", set()),
            (granted.get("lambda:InvokeFunction"), needed.get("lambda:InvokeFunction")),
        )
        check(
            f"{role_name}: exactly the actions its ASL's tasks make",
            set(granted) == set(needed),
            (sorted(granted), sorted(needed)),
        )
        check(
            f"{name}: a standard workflow (the cancel rule hears only standard executions end)",
            props.get("Type", "STANDARD") == "STANDARD",
            props.get("Type"),
        )


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else INFRA / "template.yaml"
    template, errors = decode(str(path))
    if errors or template is None:
        print(f"FAIL cannot read {path}: {errors}")
        print("0 passed, 1 failed")
        return 1
    template = json.loads(json.dumps(template))
    resources = template["Resources"]
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})

    # Every function crate is deployed, and only those.
    crates = sorted(
        re.search(r'^name\s*=\s*"([^"]+)"', (d / "Cargo.toml").read_text(), re.M).group(1)
        for d in (REPO / "functions").iterdir()
        if (d / "Cargo.toml").is_file()
    )
    # The Rust functions (cargo-lambda builds); the durable example is Python, checked on its own below.
    deployed = sorted(
        r.get("Metadata", {}).get("BuildProperties", {}).get("Binary", "")
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function" and r.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    )
    check("every crate in functions/ is a function in the template", set(crates) <= set(deployed), f"{crates} vs {deployed}")
    pending = sorted(set(deployed) - set(crates))
    check(
        "every function in the template is a crate in functions/ (or one being merged)",
        set(pending) <= NOT_YET_MERGED and len(deployed) == len(set(deployed)),
        f"no crate for {pending}",
    )
    if pending:
        print(f"note: {pending} deployed before its crate is in functions/ (NOT_YET_MERGED)")

    # Per function: its own role, written out, with exactly the expected grants.
    for logical, (binary, expected, expected_env) in EXPECTED.items():
        function = resources.get(logical)
        if function is None:
            check(f"{logical} exists", False, "missing")
            continue
        props = function["Properties"]
        check(f"{logical} builds binary {binary}", function.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binary)
        check(f"{logical} has no SAM Policies (its role says everything)", "Policies" not in props)
        role_ref = props.get("Role", {}).get("Fn::GetAtt", [None])
        role_name = role_ref[0] if isinstance(role_ref, list) else str(role_ref).split(".")[0]
        role = resources.get(role_name, {})
        check(f"{logical} has its own role in the template", role.get("Type") == "AWS::IAM::Role", props.get("Role"))
        if role.get("Type") != "AWS::IAM::Role":
            continue
        check(f"{role_name} attaches no managed policies", not role["Properties"].get("ManagedPolicyArns"))
        users = [n for n, r in resources.items() if r.get("Properties", {}).get("Role") == props.get("Role")]
        check(f"{role_name} serves {logical} only", users == [logical], users)
        compare(f"{logical} ({binary})", grants(role_statements(role)), expected)

        own_env = props.get("Environment", {}).get("Variables", {})
        env = {**globals_env, **own_env}
        check(f"{logical}: TABLE_NAME is the table", env.get("TABLE_NAME") == {"Ref": "Table"}, env.get("TABLE_NAME"))
        check(f"{logical}: LOG_LEVEL and ENVIRONMENT_NAME set", "LOG_LEVEL" in env and "ENVIRONMENT_NAME" in env)
        check(f"{logical}: no LINK_SIGNING_KEYS value in its environment", "LINK_SIGNING_KEYS" not in env)
        check(
            f"{logical}: exactly the environment its code reads",
            sorted(own_env) == sorted(expected_env),
            f"has {sorted(own_env)}, expected {sorted(expected_env)}",
        )
        wrong = {
            name: describe(own_env[name])
            for name, value in expected_env.items()
            if value is not ANY and name in own_env and describe(own_env[name]) != value
        }
        check(f"{logical}: each variable names the right resource", not wrong, wrong)
        check(
            f"{logical}: SSM parameters (by name) only with ssm:GetParameter",
            any(n.endswith("_PARAMETER") for n in env) == ("ssm:GetParameter" in expected),
        )

    for role_name, expected in OTHER_ROLES.items():
        compare(role_name, grants(role_statements(resources.get(role_name, {}))), expected)
    consumer = resources.get("ContinuationConsumerPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    compare("ContinuationConsumerPolicy", grants(statements(consumer)), CONSUMER_POLICY)
    reader = resources.get("RecordsReaderPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    compare("RecordsReaderPolicy", grants(statements(reader)), RECORDS_READER_POLICY)
    acting = resources.get("InterventionOperatorPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    compare("InterventionOperatorPolicy", grants(statements(acting)), INTERVENTION_OPERATOR_POLICY)

    # The timers: the role only EventBridge Scheduler may assume, only for this account's timeout group;
    # only passed to EventBridge Scheduler; the timers' target is the timeout function itself.
    trust = list(statements(resources.get("SchedulerRole", {}).get("Properties", {}).get("AssumeRolePolicyDocument", {})))
    principals = [s.get("Principal", {}).get("Service") for s in trust]
    conditions = [(s.get("Condition") or {}).get("StringEquals") or {} for s in trust]
    check(
        "SchedulerRole: trusted by scheduler.amazonaws.com only, for this account's timeout group only",
        principals == ["scheduler.amazonaws.com"]
        and conditions[0].get("aws:SourceAccount") == {"Ref": "AWS::AccountId"}
        and describe(conditions[0].get("aws:SourceArn")) == "TimeoutScheduleGroup.Arn",
        trust,
    )
    for logical, (_, expected, _) in EXPECTED.items():
        if "iam:PassRole" not in expected:
            continue
        role_ref = resources[logical]["Properties"]["Role"]["Fn::GetAtt"]
        role_name = role_ref[0] if isinstance(role_ref, list) else role_ref.split(".")[0]
        passes = [s for s in role_statements(resources[role_name]) if "iam:PassRole" in as_list(s.get("Action", []))]
        check(
            f"{logical}: iam:PassRole only to scheduler.amazonaws.com",
            passes
            and all(
                (s.get("Condition") or {}).get("StringEquals", {}).get("iam:PassedToService") == "scheduler.amazonaws.com"
                for s in passes
            ),
            passes,
        )
    timeout_name = describe(resources.get("TimeoutFunction", {}).get("Properties", {}).get("FunctionName"))
    check(
        "TIMEOUT_FUNCTION_ARN is the timeout function's ARN (by its fixed name)",
        TIMEOUT_FUNCTION_ARN.endswith(":function:" + timeout_name),
        f"{TIMEOUT_FUNCTION_ARN} vs FunctionName {timeout_name}",
    )
    invoke = resources.get("TimeoutFunction", {}).get("Properties", {}).get("EventInvokeConfig", {})
    check(
        "the timeout function's failed invocations go to the timeout dead-letter queue",
        describe(invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")) == "TimeoutDeadLetterQueue.Arn",
        invoke,
    )

    # kms:Decrypt only through SSM, only for the SecureString parameters: the signing keys, the Slack
    # token and the Teams webhooks.
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in role_statements(resource):
            if "kms:Decrypt" in as_list(statement.get("Action", [])):
                condition = statement.get("Condition", {}).get("StringEquals", {})
                context = describe(condition.get("kms:EncryptionContext:PARAMETER_ARN"))
                check(
                    f"{name}: kms:Decrypt only via SSM, only for a SecureString parameter of ours",
                    "kms:ViaService" in condition and context in (PARAMETER_ARN, SLACK_TOKEN_ARN, TEAMS_WEBHOOKS_ARN),
                    condition,
                )

    # No wildcards anywhere an identity policy is written.
    documents = []
    for name, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            documents.append((name, list(role_statements(resource))))
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            documents.append((name, list(statements(resource["Properties"]["PolicyDocument"]))))
        elif resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for policy in as_list(resource.get("Properties", {}).get("Policies", [])):
                check(f"{name}: no SAM policy templates or managed policies", isinstance(policy, dict) and "Statement" in policy, policy)
    for name, statement_list in documents:
        allows = [s for s in statement_list if s.get("Effect") == "Allow"]
        actions = [a for s in allows for a in as_list(s.get("Action", []))]
        check(f"{name}: no wildcard actions", all("*" not in a for a in actions), [a for a in actions if "*" in a])
        check(f"{name}: no NotAction / NotResource", all("NotAction" not in s and "NotResource" not in s for s in allows))
        star = [
            s for s in allows if any(r == "*" for r in as_list(s.get("Resource", [])) for r in branches(r))
        ]
        wrong = [s.get("Sid") for s in star if not set(as_list(s.get("Action", []))) <= TASK_TOKEN_ACTIONS]
        check(f"{name}: no Resource \"*\" (but for the task-token actions, alone in their statement)", not wrong, wrong)
        mixed = [s.get("Sid") for s in star if len(as_list(s.get("Resource", []))) != 1 or s.get("Condition")]
        check(f"{name}: a task-token statement is \"*\" alone", not mixed, mixed)
        starred = {a for s in star for a in as_list(s.get("Action", []))}
        scoped = [a for a in starred if resource_types(a)]
        check(f"{name}: \"*\" only for actions with no resource-level permissions (IAM reference)", not scoped, scoped)

    # The API invokes each function only through this API; EventBridge invokes the cancel function only
    # for the cancel rule; nothing else may invoke a function.
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            props = resource["Properties"]
            source = describe(props.get("SourceArn", "*"))
            function = describe(props.get("FunctionName"))
            principal = props.get("Principal")
            check(
                f"{name}: API Gateway or EventBridge, in this account",
                principal in ("apigateway.amazonaws.com", "events.amazonaws.com")
                and props.get("SourceAccount") == {"Ref": "AWS::AccountId"}
                and props.get("Action") == "lambda:InvokeFunction",
                props,
            )
            if principal == "events.amazonaws.com":
                check(
                    f"{name}: the cancel function only for the cancel rule, the log export only for its schedule",
                    (function, source)
                    in {("Ref:CancelFunction", "CancelOnExecutionEndRule.Arn"), ("Ref:LogExportFunction", "LogExportRule.Arn")},
                    (function, source),
                )
                continue
            check(f"{name}: scoped to this API", "${HttpApi}/" in source, source)
            check(f"{name}: never the cancel function", function != "Ref:CancelFunction", function)
            if function == "Ref:RecordsFunction":
                check(
                    f"{name}: the records function only through its routes (GET records, POST actions)",
                    "/GET/interventions" in source or source.endswith("/POST/interventions/*"),
                    source,
                )

    # Routes: the record routes are IAM-authorized (and only they reach the records function); the link
    # pages are public. Every integration names a function of this template.
    api = next((r for r in resources.values() if r["Type"] == "AWS::Serverless::HttpApi"), {})
    body = api.get("Properties", {}).get("DefinitionBody", {})
    schemes = body.get("components", {}).get("securitySchemes", {})
    iam_schemes = {n for n, s in schemes.items() if s.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    names = {
        describe(r["Properties"].get("FunctionName")): n
        for n, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    for route_path, item in body.get("paths", {}).items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            route = f"{method.upper()} {route_path}"
            uri = describe(operation.get("x-amazon-apigateway-integration", {}).get("uri"))
            target = re.search(r":function:(.+)/invocations$", uri)
            function = names.get(target.group(1)) if target else None
            check(f"{route}: integrates a function of this template", function, uri)
            signed = [s for requirement in as_list(operation.get("security", [])) for s in requirement]
            if route_path in RECORDS_ROUTES:
                check(
                    f"{route}: IAM-authorized (SigV4), never public",
                    signed and all(s in iam_schemes for s in signed) and function == "RecordsFunction",
                    (signed, function),
                )
            else:
                check(f"{route}: public, not the records function", not signed and function != "RecordsFunction", (signed, function))
    check("every record and action route is on the API", RECORDS_ROUTES <= set(body.get("paths", {})), sorted(body.get("paths", {})))

    # The signing keys are not in the template, only where to find them.
    text = path.read_text()
    infra_texts = {p.name: p.read_text() for p in INFRA.rglob("*") if p.suffix in (".yaml", ".json") and p.is_file()}
    check("no dynamic references ({{resolve:...}}) in the template", "{{resolve:" not in text)
    found = [(n, m.group(0)) for n, t in infra_texts.items() for m in KEY_SPEC.finditer(t) if looks_like_key(m)]
    check("no kid:base64secret value in infra/ templates or state machines", not found, found)
    parameter = template.get("Parameters", {}).get("SigningKeysParameterName", {})
    check(
        "SigningKeysParameterName is a parameter name, not a value",
        str(parameter.get("Default", "/")).startswith("/") and parameter.get("AllowedPattern", "").startswith("^/"),
        parameter,
    )
    holders = [n for n, r in resources.items() if r["Type"] in ("AWS::SSM::Parameter", "AWS::SecretsManager::Secret")]
    check("the template creates no parameter or secret holding the keys", not holders, holders)
    everything = list(strings(template))
    check("LINK_SIGNING_KEYS (the value variable) is never set", "LINK_SIGNING_KEYS" not in everything)

    # The publisher takes exactly the new outbox records (submissions, timers, messages to reviewers) and
    # the cancelled interventions (to edit their Slack messages).
    events = resources.get("PublisherFunction", {}).get("Properties", {}).get("Events", {})
    patterns = [
        json.loads(f["Pattern"])
        for e in events.values()
        for f in e.get("Properties", {}).get("FilterCriteria", {}).get("Filters", [])
    ]
    inserts = [p for p in patterns if p.get("eventName") == ["INSERT"]]
    modifies = [p for p in patterns if p.get("eventName") == ["MODIFY"]]
    prefixes = sorted(
        p.get("prefix") if isinstance(p, dict) else p
        for pattern in inserts
        for p in pattern.get("dynamodb", {}).get("NewImage", {}).get("sk", {}).get("S", [])
    )
    check(
        "the publisher's stream filter passes new submissions (S#), timers (T#) and messages (M#) only",
        len(inserts) == 1 and prefixes == ["M#", "S#", "T#"],
        patterns,
    )
    cancelled = [m.get("dynamodb", {}).get("NewImage", {}) for m in modifies]
    check(
        "the only update the publisher sees is an intervention (sk I) that has cancelledAt",
        len(patterns) == 2
        and len(cancelled) == 1
        and cancelled[0].get("sk") == {"S": ["I"]}
        and cancelled[0].get("cancelledAt") == {"N": [{"exists": True}]},
        patterns,
    )

    # The access log must not hold the token: no path in its format, the route template instead.
    log_format = api.get("Properties", {}).get("AccessLogSettings", {}).get("Format", "")
    leaks = [v for v in ("$context.path", "$context.resourcePath", "$context.rawPath", "$context.requestUri") if v in log_format]
    check("access log has the route key and no request path", "$context.routeKey" in log_format and not leaks, leaks)

    check_correlation_index(resources)
    check_cancel_rule(resources)
    check_log_export_rule(resources)
    check_queue_policies(resources)
    check_state_machine_roles(resources, path)
    check_durable_example(resources)

    passed, failed = results.count(True), results.count(False)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

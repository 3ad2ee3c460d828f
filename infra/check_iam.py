"""Least-privilege and secret-handling checks of infra/template.yaml (plain Python, no pytest).

Every function's role must allow exactly the actions its code makes, on exactly its resources, and
every function gets exactly the environment its code reads; no policy may use a wildcard action or
`Resource: "*"`; the link signing keys must never be in the template (only the name of the SSM
parameter that holds them); the operator's record routes are IAM-authorized, the link pages public.

Usage: python infra/check_iam.py [template]   Last line: "N passed, N failed"; exit 1 on a failure.
"""

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import decode

INFRA = Path(__file__).resolve().parent
REPO = INFRA.parent

PARAMETER_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SigningKeysParameterName}"
ANY_KMS_KEY_HERE = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"


def own_logs(log_group):
    return {"logs:CreateLogStream": {f"{log_group}.Arn"}, "logs:PutLogEvents": {f"{log_group}.Arn"}}


SIGNING_KEYS = {"ssm:GetParameter": {PARAMETER_ARN}, "kms:Decrypt": {ANY_KMS_KEY_HERE}}
SCHEDULES_IN_GROUP = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${TimeoutScheduleGroup}/*"
ENVIRONMENT_INDEX = "${Table.Arn}/index/byEnvironment"
TIMEOUT_FUNCTION_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-timeout"

# Environment variables beyond the Globals (TABLE_NAME, LOG_LEVEL, ENVIRONMENT_NAME), exactly, as
# `describe` renders them; ANY: set, any value.
ANY = object()
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
#                CreateSchedule in the group, passing SchedulerRole (iam:PassRole).
#   form-page:   Service::view = GetItem (the intervention; a GET never writes).
#   submission:  GetItem (intervention, repeated submission) + TransactWriteItems, which IAM authorises
#                per contained item: Update (count the use, the allowance) and Put (the submission);
#                after the first accepted submission, EventBridgeScheduler::unschedule = DeleteSchedule.
#   publisher:   the stream (event source mapping), SendMessageBatch (= sqs:SendMessage), UpdateItem
#                (mark published), and the mapping's on-failure destination (sqs:SendMessage); the
#                outbox sweep ({"sweep": true} every 5 minutes): Query on the outbox index + GetItem.
#   timeout:     GetItem (the intervention) + the timeout TransactWriteItems: Update (timedOutAt, the
#                allowance) and Put (T#timeout); its asynchronous on-failure destination (sqs:SendMessage).
#   records:     GetItem (the intervention), Query on the table (its submissions, begins_with S#) and
#                on the byEnvironment index (the listing).
EXPECTED = {
    "CreateLinkFunction": (
        "create-link",
        {
            **own_logs("CreateLinkLogGroup"),
            "dynamodb:PutItem": {"Table.Arn"},
            **SIGNING_KEYS,
            "scheduler:CreateSchedule": {SCHEDULES_IN_GROUP},
            "iam:PassRole": {"SchedulerRole.Arn"},
        },
        {**LINKS_ENV, **SCHEDULER_ENV},
    ),
    "FormPageFunction": (
        "form-page",
        {**own_logs("FormPageLogGroup"), "dynamodb:GetItem": {"Table.Arn"}, **SIGNING_KEYS},
        LINKS_ENV,
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
            "dynamodb:Query": {"${Table.Arn}/index/outbox"},
            "sqs:SendMessage": {"ContinuationQueue.Arn", "PublisherFailureQueue.Arn"},
        },
        {"QUEUE_URL": "Ref:ContinuationQueue"},
    ),
    "TimeoutFunction": (
        "timeout",
        {
            **own_logs("TimeoutLogGroup"),
            "dynamodb:GetItem": {"Table.Arn"},
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
        },
        {},
    ),
}

OTHER_ROLES = {
    # EventBridge Scheduler firing a timer: invoke the timeout function, dead-letter what it cannot.
    "SchedulerRole": {
        "lambda:InvokeFunction": {"TimeoutFunction.Arn"},
        "sqs:SendMessage": {"TimeoutDeadLetterQueue.Arn"},
    },
    "RefundApprovalStateMachineRole": {
        "lambda:InvokeFunction": {"CreateLinkFunction.Arn"},
        "ses:SendEmail": {
            "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}",
            "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Domain}",
        },
    },
}

CONSUMER_POLICY = {
    action: {"ContinuationQueue.Arn"}
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
}

# The operator's read access: exactly the two record routes, nothing else on the API.
EXECUTE_API = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"
RECORDS_READER_POLICY = {
    "execute-api:Invoke": {f"{EXECUTE_API}/GET/interventions", f"{EXECUTE_API}/GET/interventions/*"},
}
# Which routes are IAM-authorized (the rest are the public link pages), and the function behind each.
RECORDS_ROUTES = {"/interventions", "/interventions/{id}"}

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


def compare(name, granted, expected):
    missing = {a: sorted(r - granted.get(a, set())) for a, r in expected.items() if r - granted.get(a, set())}
    extra = {a: sorted(r - expected.get(a, set())) for a, r in granted.items() if r - expected.get(a, set())}
    check(
        f"{name}: exactly the expected actions on exactly the expected resources",
        not missing and not extra,
        f"missing {missing}, extra {extra}",
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
    deployed = sorted(
        r.get("Metadata", {}).get("BuildProperties", {}).get("Binary", "")
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function"
    )
    check("every crate in functions/ is a function in the template", crates == deployed, f"{crates} vs {deployed}")

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
            f"{logical}: signing keys (parameter name) only with ssm:GetParameter",
            ("LINK_SIGNING_KEYS_PARAMETER" in env) == ("ssm:GetParameter" in expected),
        )

    for role_name, expected in OTHER_ROLES.items():
        compare(role_name, grants(role_statements(resources.get(role_name, {}))), expected)
    consumer = resources.get("ContinuationConsumerPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    compare("ContinuationConsumerPolicy", grants(statements(consumer)), CONSUMER_POLICY)
    reader = resources.get("RecordsReaderPolicy", {}).get("Properties", {}).get("PolicyDocument", {})
    compare("RecordsReaderPolicy", grants(statements(reader)), RECORDS_READER_POLICY)

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

    # kms:Decrypt only through SSM, only for the signing-keys parameter.
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in role_statements(resource):
            if "kms:Decrypt" in as_list(statement.get("Action", [])):
                condition = statement.get("Condition", {}).get("StringEquals", {})
                context = describe(condition.get("kms:EncryptionContext:PARAMETER_ARN"))
                check(
                    f"{name}: kms:Decrypt only via SSM, only for the signing-keys parameter",
                    "kms:ViaService" in condition and context == PARAMETER_ARN,
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
        star = [s.get("Sid") for s in allows for r in as_list(s.get("Resource", [])) for r in branches(r) if r == "*"]
        check(f"{name}: no Resource \"*\"", not star, star)

    # The API invokes each function only through this API.
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            source = describe(resource["Properties"].get("SourceArn", "*"))
            check(f"{name}: scoped to this API", "${HttpApi}/" in source, source)
            if describe(resource["Properties"].get("FunctionName")) == "Ref:RecordsFunction":
                check(f"{name}: the records function only through its GET routes", "/GET/interventions" in source, source)

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
    check("both record routes are on the API", RECORDS_ROUTES <= set(body.get("paths", {})), sorted(body.get("paths", {})))

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

    # The publisher turns exactly the new continuation records into messages: submissions and timeouts.
    events = resources.get("PublisherFunction", {}).get("Properties", {}).get("Events", {})
    patterns = [
        json.loads(f["Pattern"])
        for e in events.values()
        for f in e.get("Properties", {}).get("FilterCriteria", {}).get("Filters", [])
    ]
    prefixes = sorted(
        p.get("prefix")
        for pattern in patterns
        for p in pattern.get("dynamodb", {}).get("NewImage", {}).get("sk", {}).get("S", [])
    )
    check(
        "the publisher's stream filter passes new submissions (S#) and timeouts (T#) only",
        len(patterns) == 1 and patterns[0].get("eventName") == ["INSERT"] and prefixes == ["S#", "T#"],
        patterns,
    )

    # The access log must not hold the token: no path in its format, the route template instead.
    log_format = api.get("Properties", {}).get("AccessLogSettings", {}).get("Format", "")
    leaks = [v for v in ("$context.path", "$context.resourcePath", "$context.rawPath", "$context.requestUri") if v in log_format]
    check("access log has the route key and no request path", "$context.routeKey" in log_format and not leaks, leaks)

    passed, failed = results.count(True), results.count(False)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

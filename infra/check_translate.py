"""Checks what linting the SAM template alone cannot:

1. Translates infra/template.yaml with the SAM translator (what CloudFormation's SAM transform does at
   deploy time) and lints the plain CloudFormation result with cfn-lint, which catches, for example, a
   circular dependency between generated resources.
2. Validates each state machine's ASL file (every infra/statemachine/*.asl.json must be one): cfn-lint
   checks it against the ASL schema (as the inline Definition of a StateMachine with its
   DefinitionSubstitutions filled in), and this script checks that every transition names an existing
   state, every state is reachable, and an end state is reachable from every state.
3. Checks each state machine's contract with create-link: a creation step passes the idempotencyKey
   (stable across the step's Retry, new on each entry) and catches IdempotencyKeyReused; a waiting
   machine correlates by execution ARN (what the cancel rule matches), and its .waitForTaskToken step
   sends exactly {interventionId, taskToken}, waits past the link's expiry (HeartbeatSeconds and
   TimeoutSeconds), catches States.Timeout, and is followed by a Choice whose branches end in distinct
   end states.

Usage: python infra/check_translate.py [template]  (run by infra/check.sh). Exits non-zero on errors.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cfnlint.decode import decode

INFRA = Path(__file__).resolve().parent


class NoManagedPolicies:
    """The template attaches no managed policies, so the translator never needs IAM's list."""

    def load(self):
        return {}


def lint(template: dict, label: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / (label.replace(" ", "-") + ".json")
        out.write_text(json.dumps(template, indent=1))
        lint = subprocess.run(
            [str(Path(sys.executable).parent / "cfn-lint"), "--", str(out)], capture_output=True, text=True
        )
    output = (lint.stdout + lint.stderr).strip()
    if output:
        print(output)
    if lint.returncode != 0:
        print(f"cfn-lint on the {label}: exit {lint.returncode}")
    return lint.returncode == 0


def transitions(state: dict) -> list:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice.get("Next") for choice in state.get("Choices", [])]
    targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
    return [t for t in targets if t]


IDEMPOTENCY_KEY = "States.Format('{}/{}/{}', $$.Execution.Id, $$.State.Name, $$.State.EnteredTime)"
WAIT_PAYLOAD = {"interventionId.$": "$.intervention.interventionId", "taskToken.$": "$$.Task.Token"}
# After the link's expiry: EventBridge Scheduler fires the timeout within a minute; the wait must outlast
# that, and should not outlast it by more than an hour (a run waiting on a dead link).
SCHEDULER_DELAY = 60
LONGEST_OVERWAIT = 3600


def is_end(state: dict) -> bool:
    return bool(state.get("End")) or state.get("Type") in ("Succeed", "Fail")


def check_contract(name: str, definition: dict) -> bool:
    """The state machine's calls to create-link: idempotent creation; a waiting step consistent with the
    link's expiry; every branch of the decision ending in its own end state."""
    problems = []
    states = definition.get("States", {})
    tasks = {n: s for n, s in states.items() if s.get("Type") == "Task"}
    creations = {n: s for n, s in tasks.items() if "formDocument" in s.get("Parameters", {}).get("Payload", {})}
    waits = {n: s for n, s in tasks.items() if s.get("Resource", "").endswith(".waitForTaskToken")}
    if not creations:
        problems.append("no step creates a link")
    for step, state in creations.items():
        payload = state["Parameters"]["Payload"]
        if payload.get("idempotencyKey.$") != IDEMPOTENCY_KEY:
            problems.append(f"{step}: idempotencyKey.$ is {payload.get('idempotencyKey.$')!r}, not {IDEMPOTENCY_KEY!r}")
        caught = [e for c in state.get("Catch", []) for e in c.get("ErrorEquals", [])]
        if "IdempotencyKeyReused" not in caught or caught.index("IdempotencyKeyReused") > caught.index("States.ALL"):
            problems.append(f"{step}: IdempotencyKeyReused is not caught (before States.ALL)")
        if waits and payload.get("correlationId.$") != "$$.Execution.Id":
            problems.append(f"{step}: a waiting machine must correlate by $$.Execution.Id (the cancel rule's executionArn)")
    expiry = max((s["Parameters"]["Payload"].get("urlExpirationHours", 0) * 3600 for s in creations.values()), default=0)
    for step, state in waits.items():
        parameters = state.get("Parameters", {})
        if parameters.get("Payload") != WAIT_PAYLOAD:
            problems.append(f"{step}: the payload must be exactly {WAIT_PAYLOAD}, not {parameters.get('Payload')}")
        if parameters.get("FunctionName") not in {s["Parameters"].get("FunctionName") for s in creations.values()}:
            problems.append(f"{step}: attaches through {parameters.get('FunctionName')}, not the function that creates the link")
        heartbeat, timeout = state.get("HeartbeatSeconds"), state.get("TimeoutSeconds")
        if not (isinstance(heartbeat, int) and isinstance(timeout, int)):
            problems.append(f"{step}: HeartbeatSeconds and TimeoutSeconds must both be set")
        elif not expiry + SCHEDULER_DELAY < heartbeat < timeout <= expiry + LONGEST_OVERWAIT:
            problems.append(
                f"{step}: need {expiry} + {SCHEDULER_DELAY} < HeartbeatSeconds ({heartbeat}) < TimeoutSeconds ({timeout})"
                f" <= {expiry} + {LONGEST_OVERWAIT} (the link lives {expiry} s)"
            )
        timeouts = [c.get("Next") for c in state.get("Catch", []) if "States.Timeout" in c.get("ErrorEquals", [])]
        if not timeouts or not is_end(states.get(timeouts[0], {})):
            problems.append(f"{step}: States.Timeout is not caught into an end state")
        if state.get("ResultPath") != "$.decision":
            problems.append(f"{step}: ResultPath is {state.get('ResultPath')!r}, not '$.decision'")
        route = states.get(state.get("Next"), {})
        if route.get("Type") != "Choice":
            problems.append(f"{step}: is not followed by a Choice on the decision")
            continue
        targets = [c.get("Next") for c in route.get("Choices", [])] + [route.get("Default")]
        if None in targets or len(set(targets)) != len(targets) or not all(is_end(states.get(t, {})) for t in targets):
            problems.append(f"{state.get('Next')}: its branches {targets} must end in distinct end states")
        variables = {c.get("Variable") for rule in route.get("Choices", []) for c in [rule, *rule.get("And", [])]}
        if not {"$.decision.outcome", "$.decision.context.decision"} <= variables:
            problems.append(f"{state.get('Next')}: must route on $.decision.outcome and $.decision.context.decision")
    for problem in problems:
        print(f"{name}: {problem}")
    return not problems


def check_asl(name: str, definition: dict, substitutions: dict) -> bool:
    """Schema (cfn-lint), graph and contract checks of one state machine definition."""
    ok = True
    states = definition.get("States", {})
    if definition.get("StartAt") not in states:
        print(f"{name}: StartAt {definition.get('StartAt')!r} is not a state")
        ok = False
    for state_name, state in states.items():
        for target in transitions(state):
            if target not in states:
                print(f"{name}: {state_name} goes to {target!r}, which is not a state")
                ok = False
        if not transitions(state) and not state.get("End") and state.get("Type") not in ("Succeed", "Fail"):
            print(f"{name}: {state_name} neither goes anywhere nor ends")
            ok = False
    seen, todo = set(), [definition.get("StartAt")]
    while todo:
        current = todo.pop()
        if current in seen or current not in states:
            continue
        seen.add(current)
        todo += transitions(states[current])
    for unreachable in sorted(set(states) - seen):
        print(f"{name}: {unreachable} is unreachable")
        ok = False
    # An end is reachable from every state (no cycle without a way out).
    ending = {n for n, s in states.items() if is_end(s)}
    grew = True
    while grew:
        grew = False
        for state_name, state in states.items():
            if state_name not in ending and any(t in ending for t in transitions(state)):
                ending.add(state_name)
                grew = True
    for stuck in sorted(set(states) - ending):
        print(f"{name}: no end state is reachable from {stuck}")
        ok = False
    ok = check_contract(name, definition) and ok
    placeholders = {key: f"arn:aws:lambda:us-east-1:123456789012:function:{key}" for key in substitutions}
    if "SenderEmail" in placeholders:
        placeholders["SenderEmail"] = "sender@example.com"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/example",
                    "Definition": definition,
                    "DefinitionSubstitutions": placeholders,
                },
            }
        },
    }
    return lint(template, f"state machine {name}") and ok


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else INFRA / "template.yaml"
    template, errors = decode(str(path))
    if errors:
        for error in errors:
            print(error)
        return 1
    template = json.loads(json.dumps(template))  # plain dicts for the translator

    ok = True
    deployed = {
        (path.parent / r["Properties"]["DefinitionUri"]).resolve()
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in r.get("Properties", {})
    }
    for asl in sorted((INFRA / "statemachine").glob("*.asl.json")):
        if asl.resolve() not in deployed:
            print(f"{asl.relative_to(INFRA)} is not the definition of a state machine in the template, so it is not checked")
            ok = False
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam build` replaces the local code path with the uploaded artifact.
            props["CodeUri"] = f"s3://example-bucket/{name}.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            definition = json.loads((path.parent / props.pop("DefinitionUri")).read_text())
            props["Definition"] = definition
            if check_asl(name, definition, props.get("DefinitionSubstitutions", {})):
                print(f"{name}: ASL valid ({len(definition['States'])} states)")
            else:
                ok = False

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform

    try:
        translated = transform(template, {}, NoManagedPolicies())
    except Exception as error:  # the translator's errors name the resource and the problem
        print(f"SAM translation failed: {error}")
        return 1

    # The durable example stays durable once translated (SAM passes DurableConfig to AWS::Lambda::Function).
    durable = translated["Resources"].get("DurableApprovalFunction", {}).get("Properties", {}).get("DurableConfig")
    if durable and durable.get("ExecutionTimeout"):
        print(f"DurableApprovalFunction: translated with DurableConfig {json.dumps(durable)}")
    else:
        print("DurableApprovalFunction: no DurableConfig after the SAM translation")
        ok = False

    if lint(translated, "translated template"):
        print(f"SAM translation: {len(translated['Resources'])} CloudFormation resources, cfn-lint clean")
    else:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

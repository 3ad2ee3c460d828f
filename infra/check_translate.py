"""Checks what linting the SAM template alone cannot:

1. Translates infra/template.yaml with the SAM translator (what CloudFormation's SAM transform does at
   deploy time) and lints the plain CloudFormation result with cfn-lint, which catches, for example, a
   circular dependency between generated resources.
2. Validates each state machine's ASL file: cfn-lint checks it against the ASL schema (as the inline
   Definition of a StateMachine with its DefinitionSubstitutions filled in), and this script checks
   that every transition names an existing state and every state is reachable.

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


def check_asl(name: str, definition: dict, substitutions: dict) -> bool:
    """Schema (cfn-lint) and graph checks of one state machine definition."""
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

    if lint(translated, "translated template"):
        print(f"SAM translation: {len(translated['Resources'])} CloudFormation resources, cfn-lint clean")
    else:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

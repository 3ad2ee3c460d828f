"""Every metric the functions emit is read: by an alarm or on the operations dashboard (a custom metric
nobody reads still costs money each month), and everything read there is a metric the functions emit.
Run by infra/check.sh."""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TELEMETRY = ROOT / "shared" / "src" / "telemetry.rs"
TEMPLATE = ROOT / "infra" / "template.yaml"


def emitted():
    text = TELEMETRY.read_text()
    module = text[text.index("pub mod metric {"):]
    module = module[:module.index("\n}\n")]
    return set(re.findall(r'pub const [A-Z_]+: &str = "([A-Za-z]+)";', module))


def dashboard_body(template):
    start = template.index("  OperationsDashboard:")
    body = template[template.index("DashboardBody: !Sub |", start):].split("\n", 1)[1]
    lines = []
    for line in body.split("\n"):
        if line.strip() and not line.startswith("        "):
            break
        lines.append(line)
    # The substitutions, as CloudFormation makes them, with stand-in values.
    text = "\n".join(lines).replace("${EnvironmentName}", "env").replace("${AWS::Region}", "eu-west-1")
    if "${" in text:
        raise ValueError("the dashboard body has a substitution this check does not know")
    return json.loads(text)


def main():
    template = TEMPLATE.read_text()
    names = emitted()
    problems = []
    if len(names) < 10:
        problems.append(f"found only {len(names)} metric names in {TELEMETRY}: the check no longer reads it")
    alarmed = set()
    for block in re.split(r"\n  (?=[A-Za-z]+:\n)", template):
        if "Type: AWS::CloudWatch::Alarm" in block and "Namespace: HumanIntervention" in block:
            alarmed.update(re.findall(r"MetricName: ([A-Za-z]+)", block))
    try:
        body = dashboard_body(template)
    except (ValueError, json.JSONDecodeError) as error:
        print(f"the operations dashboard's body is not JSON: {error}")
        return 1
    shown = set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            for item in row:
                if isinstance(item, dict) and "expression" in item:
                    shown.update(re.findall(r'MetricName="([A-Za-z]+)"', item["expression"]))
                    if "HumanIntervention" not in item["expression"]:
                        problems.append(f"a dashboard expression outside the product's namespace: {item['expression']}")
    for name in sorted(names - alarmed - shown):
        problems.append(f"{name} is emitted but read nowhere: add it to the dashboard or an alarm, or stop emitting it")
    for name in sorted((alarmed | shown) - names):
        problems.append(f"{name} is read by the template but no function emits it")
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(names)} metrics, each read: {len(shown)} on the dashboard, {len(alarmed)} alarmed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

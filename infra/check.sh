#!/usr/bin/env bash
# Checks the infrastructure: `bash infra/check.sh` from the repository root. Exits non-zero on any problem.
#   1. cfn-lint on the SAM template (errors and warnings fail);
#   2. the SAM translation of the template, linted as plain CloudFormation, and the state machines' ASL
#      with their contract with create-link
#      (infra/check_translate.py);
#   3. least privilege and secret handling (infra/check_iam.py);
#   4. every metric the functions emit is read by an alarm or the dashboard (infra/check_metrics.py);
#   5. the examples (the consumer, the durable function) compile.
# Tools go into the repository's virtualenv (.venv), created if missing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
PYTHON=${PYTHON:-python3}
CFN_LINT=${CFN_LINT:-cfn-lint==1.58.0}
SAM_TRANSLATOR=${SAM_TRANSLATOR:-aws-sam-translator==1.115.0}

if [[ ! -x $VENV/bin/python ]]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV" || exit 1
fi
if [[ ! -x $VENV/bin/cfn-lint ]]; then
  echo "== installing $CFN_LINT"
  "$VENV/bin/pip" install -q "$CFN_LINT" || exit 1
fi
if ! "$VENV/bin/python" -c "import samtranslator" 2>/dev/null; then
  echo "== installing $SAM_TRANSLATOR"
  "$VENV/bin/pip" install -q "$SAM_TRANSLATOR" || exit 1
fi

failed=()

echo "== cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}') infra/template.yaml"
"$VENV/bin/cfn-lint" -- infra/template.yaml
rc=$?
# cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational (1: it could not run).
if (( rc & 7 )); then failed+=("cfn-lint (exit $rc)"); else echo "clean"; fi

echo "== SAM translation and state machines (infra/check_translate.py)"
"$VENV/bin/python" infra/check_translate.py || failed+=("check_translate.py")

echo "== least privilege and secrets (infra/check_iam.py)"
"$VENV/bin/python" infra/check_iam.py || failed+=("check_iam.py")

echo "== every metric emitted is read (infra/check_metrics.py)"
"$VENV/bin/python" infra/check_metrics.py || failed+=("check_metrics.py")

echo "== the examples compile (the consumer, the durable function)"
for example in infra/examples/consumer.py infra/examples/durable_approval.py; do
  "$VENV/bin/python" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$example" \
    && echo "ok $example" || failed+=("$example")
done

if (( ${#failed[@]} )); then
  echo "infra check FAILED: ${failed[*]}"
  exit 1
fi
echo "infra check passed"

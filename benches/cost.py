"""What 1,000 approvals cost on AWS, computed from what `make bench` measured (benches/run.py): the AWS calls
per operation (section c), the item sizes stored by the run on moto, the log bytes per event (section e), the
init times (section b) and each function's own time per event; beside it the same flow as AWS's Step
Functions human-approval sample (API Gateway REST + 2 Lambda functions + a standard state machine with a
`.waitForTaskToken` task), computed the same way.

The flow: create a link, one view of the page (and its stylesheet), one submission (and the success page's
stylesheet), publish its continuation, one timer that fires (the Scheduler invokes the timeout function,
which reads the item and finds it answered).

What is not measured here and is stated instead: the prices (PRICES, with their date), the latency of each
AWS call inside a region (LATENCY_MS: moto is local, so only the number of calls is measured), and the
Lambda platform's own log lines (their documented formats, measured as strings).
"""

import json
import math
import re

# us-east-1 list prices (on-demand, no free tier), from the AWS pricing pages as of 2026-12-07.
PRICES_DATE = "2026-12-07"
PRICES = {
    "lambda_request": 0.20 / 1e6,  # per invocation
    "lambda_gb_second_arm": 0.0000133334,  # arm64, first 7.5 billion GB-s a month
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit (since 2024-11-01)
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB request
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, per invocation (API calls are free)
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, first 300 million a month
    "rest_api_request": 3.50 / 1e6,  # API Gateway REST API, first 333 million a month
    "sfn_transition": 0.025 / 1e3,  # Step Functions standard workflow state transition
    "logs_gb": 0.50,  # CloudWatch Logs standard ingestion, per GB
    # A deployment's monthly costs, whatever the traffic:
    "custom_metric_month": 0.30,  # CloudWatch, per metric (name + dimension values), first 10,000
    "alarm_month": 0.10,  # CloudWatch standard-resolution alarm
    "dashboard_month": 3.00,  # CloudWatch dashboard (an account's first three are free)
    "kms_key_month": 1.00,  # KMS customer managed key
}

# Assumed in-region latency of one call (ms); the number of calls is what the bench measures.
LATENCY_MS = {
    "DynamoDB.GetItem": 4,
    "DynamoDB.PutItem": 6,
    "DynamoDB.UpdateItem": 6,
    "DynamoDB.TransactWriteItems": 12,
    "SQS.SendMessageBatch": 10,
    "Scheduler.CreateSchedule": 20,
    "Scheduler.DeleteSchedule": 20,
    "SNS.Publish": 15,
    "SFN.SendTaskSuccess": 15,
}

# Lambda's own lines per invocation (START, END, REPORT), in their documented formats.
REQUEST_ID = "8f5e1a2c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
PLATFORM_LINES = (f"START RequestId: {REQUEST_ID} Version: $LATEST\n"
                  f"END RequestId: {REQUEST_ID}\n"
                  f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
                  "Memory Size: 128 MB\tMax Memory Used: 20 MB\t\n")


def item_size(item):
    """DynamoDB's size of an item in its wire form (attribute names and values, as the docs count them)."""
    def value(v):
        (kind, x), = v.items()
        if kind == "S":
            return len(x.encode())
        if kind == "N":
            digits = len(x.lstrip("-").replace(".", "").strip("0")) or 1
            return math.ceil(digits / 2) + 1
        if kind == "B":
            return len(x) * 3 // 4
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(e) + 1 for k, e in x.items())
        if kind == "L":
            return 3 + sum(value(e) + 1 for e in x)
        if kind in ("SS", "NS", "BS"):
            return sum(value({kind[0]: e}) for e in x)
        return 0
    return sum(len(name.encode()) + value(v) for name, v in item.items())


def calls_of(text):
    """{"DynamoDB.GetItem": 1, …} from a round-trip row's "DynamoDB.GetItem=1 SQS.…=2"."""
    return {name: int(n) for name, n in (c.split("=") for c in text.split())}


def round_trip_calls(rows, label="with timeouts"):
    """The calls of each operation of the flow, from section c's rows."""
    by_name = {operation: calls_of(shown) for operation, _, _, shown, _ in rows}
    publish = next((o for o in by_name if o.startswith("publish ") and label in o), None)
    calls = {
        "create": by_name.get(f"create ({label})", {}),
        "view": by_name.get(f"view ({label})", {}),
        "submit": by_name.get(f"first submission ({label})", {}),
    }
    if publish:
        n = int(re.search(r"publish (\d+)", publish).group(1))
        # One approval's continuation: its own batch and its own read of the waiting run.
        calls["publish"] = {k: (v // n if k == "DynamoDB.UpdateItem" else v) for k, v in by_name[publish].items()}
    return calls


def dynamo_units(calls, sizes):
    """(RRU, WRU) of one operation: consistent reads of the intervention item, transactional writes doubled,
    and the writes to each index the item is in (byEnvironment projects ALL, the others keys only)."""
    kb = lambda size, unit: max(1, math.ceil(size / unit))
    intervention, submission = sizes["intervention"], sizes["submission"]
    rru = calls.get("DynamoDB.GetItem", 0) * kb(intervention, 4096)
    wru = 0
    if calls.get("DynamoDB.PutItem"):  # the intervention item, in byEnvironment (ALL) and byCorrelation
        wru += 2 * kb(intervention, 1024) + 1
    if calls.get("DynamoDB.TransactWriteItems"):  # the intervention, the submission, the allowance counter
        wru += 2 * (kb(intervention, 1024) + kb(submission, 1024) + 1)
        wru += kb(intervention, 1024) + 1  # byEnvironment's copy, the outbox index's entry
    if calls.get("DynamoDB.UpdateItem"):  # the published submission leaves the outbox index
        wru += calls["DynamoDB.UpdateItem"] * (kb(submission, 1024) + 1)
    return rru, wru


def billed_ms(own_ms, calls):
    return math.ceil(own_ms + sum(LATENCY_MS.get(name, 0) * n for name, n in calls.items()))


def ours(measured):
    """Rows (what, count per 1,000, unit price, cost) for our flow, and the total."""
    calls, sizes, logs, init = measured["calls"], measured["sizes"], measured["logs"], measured["init"]
    own, memory_gb = measured["own_ms"], measured["memory_mb"] / 1024
    steps = [  # (step, function, its calls)
        ("create", "create-link", calls["create"]),
        ("view", "form-page", calls["view"]),
        ("view's stylesheet", "form-page", {}),
        ("submit", "submission", calls["submit"]),
        ("success page's stylesheet", "form-page", {}),
        ("publish", "publisher", calls.get("publish", {})),
        ("timer fires", "timeout", {"DynamoDB.GetItem": 1}),
    ]
    invocations, gb_s, rru, wru, sqs, log_bytes, init_gb_s = 0, 0.0, 0, 0, 0, 0.0, 0.0
    detail = []
    for step, function, step_calls in steps:
        ms = billed_ms(own, step_calls)
        r, w = dynamo_units(step_calls, sizes)
        invocations += 1
        gb_s += ms / 1000 * memory_gb
        init_gb_s += math.ceil((init.get(function) or 0) * 1000) / 1000 * memory_gb
        rru, wru = rru + r, wru + w
        sqs += step_calls.get("SQS.SendMessageBatch", 0)
        log_bytes += logs.get(function, 0) + len(PLATFORM_LINES)
        shown = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in step_calls.items()) or "no AWS call"
        detail.append(f"{step}: {function}, {shown}, {ms} ms billed, {r} RRU, {w} WRU")
    api_requests = 4  # view, its stylesheet, the post, the success page's stylesheet
    rows = [
        ("Lambda invocations", invocations, PRICES["lambda_request"]),
        ("Lambda GB-s (128 MB, warm)", gb_s, PRICES["lambda_gb_second_arm"]),
        ("DynamoDB RRU", rru, PRICES["dynamodb_rru"]),
        ("DynamoDB WRU", wru, PRICES["dynamodb_wru"]),
        ("SQS requests", sqs, PRICES["sqs_request"]),
        ("Scheduler invocations", 1, PRICES["scheduler_invocation"]),
        ("API Gateway HTTP API requests", api_requests, PRICES["http_api_request"]),
        ("CloudWatch Logs GB (JSON + EMF + platform lines)", log_bytes / 1e9, PRICES["logs_gb"]),
    ]
    extra = [("+ if every invocation were a cold start: init GB-s", init_gb_s, PRICES["lambda_gb_second_arm"])]
    return rows, extra, detail


def step_functions_sample(measured):
    """AWS's human-approval sample: SFN standard (Lambda Callback → Choice → Pass: 3 transitions), the
    email function (SNS Publish), the approval function behind API Gateway REST (SendTaskSuccess)."""
    own, memory_gb = measured["own_ms"], measured["memory_mb"] / 1024
    email, approve = billed_ms(own, {"SNS.Publish": 1}), billed_ms(own, {"SFN.SendTaskSuccess": 1})
    rows = [
        ("Lambda invocations", 2, PRICES["lambda_request"]),
        ("Lambda GB-s (128 MB, warm)", (email + approve) / 1000 * memory_gb, PRICES["lambda_gb_second_arm"]),
        ("Step Functions transitions", 3, PRICES["sfn_transition"]),
        ("API Gateway REST API requests", 1, PRICES["rest_api_request"]),
        ("CloudWatch Logs GB (platform lines only)", 2 * len(PLATFORM_LINES) / 1e9, PRICES["logs_gb"]),
    ]
    detail = [f"email function: SNS Publish 1, {email} ms billed", f"approval function: SendTaskSuccess 1, {approve} ms billed"]
    return rows, detail


def table(measured, per=1000):
    """Both flows per `per` approvals as one markdown table, then how each of our steps was counted."""
    ours_rows, extra, ours_detail = ours(measured)
    sample_rows, sample_detail = step_functions_sample(measured)
    out = [f"Cost per {per:,} approvals, us-east-1 list prices of {PRICES_DATE} (benches/cost.py); items as "
           f"stored: intervention {measured['sizes']['intervention']:,} B, submission "
           f"{measured['sizes']['submission']:,} B; a function's own time per event {measured['own_ms']:.2f} ms "
           f"(measured) plus each AWS call's assumed latency, billed by the started ms",
           "", "| flow | item | count | unit price | cost |", "|---|---|---|---|---|"]
    totals = {}
    for flow, rows in (("ours", ours_rows), ("ours", extra), ("SFN sample", sample_rows)):
        for what, count, price in rows:
            cost = count * price * per
            if not what.startswith("+"):
                totals[flow] = totals.get(flow, 0.0) + cost
            shown = f"{count * per:,.0f}" if count * per >= 100 else f"{count * per:.4g}"
            out.append(f"| {flow} | {what} | {shown} | ${price:.4g} | ${cost:.4g} |")
    ours_total, sample_total = totals.get("ours", 0.0), totals.get("SFN sample", 0.0)
    out.append(f"| **total (warm)** | ours ${ours_total:.4f} beside the sample's ${sample_total:.4f} | | | "
               f"{ours_total / sample_total:.2f}× |" if sample_total else "| total | | | | n/a |")
    out += ["", "Counted per approval: " + "; ".join(ours_detail + ["sample: " + d for d in sample_detail]) + "."]
    return "\n".join(out)


def emf_metrics(lines):
    """The distinct custom metrics (name and dimension values) in EMF documents: what CloudWatch bills a month."""
    seen = set()
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", []):
                for metric in directive.get("Metrics", []):
                    seen.add((directive.get("Namespace"), metric["Name"],
                              tuple((d, str(doc.get(d))) for d in dimensions)))
    return seen


def fixed_monthly(template, metrics):
    """What a deployment costs a month whatever its traffic: the custom metrics seen (`emf_metrics`), and the
    template's alarms, dashboards and KMS keys; as a markdown table."""
    rows = [
        ("custom metrics seen in this run's bursts (a lower bound: each further rejection reason, channel and "
         "outcome in use adds one)", len(metrics), PRICES["custom_metric_month"]),
        ("alarms", template.count("Type: AWS::CloudWatch::Alarm"), PRICES["alarm_month"]),
        ("dashboards", template.count("Type: AWS::CloudWatch::Dashboard"), PRICES["dashboard_month"]),
        ("KMS keys (the receipts')", template.count("Type: AWS::KMS::Key"), PRICES["kms_key_month"]),
    ]
    out = [f"A deployment's fixed monthly cost (prices of {PRICES_DATE}; DynamoDB on demand, SQS, Lambda, the "
           "Scheduler and the HTTP API have none)", "", "| item | count | unit price a month | cost a month |",
           "|---|---|---|---|"]
    total = 0.0
    for what, count, price in rows:
        total += count * price
        out.append(f"| {what} | {count} | ${price:.2f} | ${count * price:.2f} |")
    out.append(f"| **total** | | | ${total:.2f} |")
    return "\n".join(out)


def dumps(measured):
    return json.dumps(measured, indent=2, sort_keys=True)

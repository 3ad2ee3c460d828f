"""Seeds the local server for the schemathesis run: interventions in every state a link can be in, so that
generated requests reach live forms, used-up and cancelled links and real records, not only Not found.

    seed.py BASE_URL OUT_DIR DEMO_LINK

Writes OUT_DIR/tokens.txt (link tokens) and OUT_DIR/ids.txt (intervention ids), one quoted value a line
(schemathesis's dictionary format). The inputs
are docs/examples/link-creation-input.json with runAvailableUntil moved to a day from now.
"""

import copy
import datetime
import json
import os
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def post(url, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type, "accept": "application/json"}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def main(base, out, demo_link):
    with open(os.path.join(ROOT, "docs", "examples", "link-creation-input.json")) as f:
        example = json.load(f)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    example["runAvailableUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    variants = {
        "live": dict(copy.deepcopy(example), maxUrlUses=10000),
        "used-up": copy.deepcopy(example),
        "cancelled": copy.deepcopy(example),
        "no-form": {k: v for k, v in example.items() if k not in ("formDocument", "secretKeys", "onTimeout")},
        "cancellable": copy.deepcopy(example),
    }
    # The live and no-form links stay live (their ids are not handed out, so nothing cancels them): posts to
    # them are accepted (no form: any body) or validated (422).
    hidden = {"live", "no-form"}
    tokens, ids = [demo_link.rsplit("/", 1)[1]], []
    for name, body in variants.items():
        created = post(f"{base}/interventions", body)
        link, intervention_id = created["context"][body["generatedUrlContextKey"]], created["interventionId"]
        tokens.append(link.rsplit("/", 1)[1])
        if name not in hidden:
            ids.append(intervention_id)
        if name == "used-up":
            post(link, b"decision=approve&_submissionId=seeded", "application/x-www-form-urlencoded")
        if name == "cancelled":
            post(f"{base}/interventions/{intervention_id}/cancel", b"")
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        f.write("".join(f'"{t}"\n' for t in tokens))
    with open(os.path.join(out, "ids.txt"), "w") as f:
        f.write("".join(f'"{i}"\n' for i in ids))
    print(f"seeded {len(variants)} interventions ({', '.join(variants)}) beside the demo link")


if __name__ == "__main__":
    main(*sys.argv[1:4])

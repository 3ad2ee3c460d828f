//! The contract in docs/ (interfaces.md, openapi.json, the JSON Schemas, the example inputs) against the
//! product: every example is accepted, every example conforms to the input schema, every continuation the
//! local server queues conforms to the continuation schema, and interfaces.md shows the fixture itself.

use std::path::{Path, PathBuf};

use human_intervention::domain::time::Timestamp;
use intervention_tests::{
    assert_continuation_conforms, validator, violations, TestServer, CONTINUATION_SCHEMA, CREATION_SCHEMA,
    DESIGN_EXAMPLE,
};
use serde_json::{json, Value};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Every `docs/examples/*.json` (each a link-creation input), by file name.
fn examples() -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = std::fs::read_dir(docs().join("examples"))
        .expect("docs/examples")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, value)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.iter().any(|(name, _)| name == "link-creation-input.json"), "the design's example is there");
    found
}

/// A clock reading at which `input` is valid: two link lifetimes before its run stops being available.
fn valid_at(input: &Value) -> Timestamp {
    let until = Timestamp::parse_rfc3339(input["runAvailableUntil"].as_str().expect("runAvailableUntil"))
        .expect("an RFC 3339 runAvailableUntil");
    let hours = input["urlExpirationHours"].as_f64().unwrap_or(1.0);
    until.plus_millis(-(2.0 * hours * 3_600_000.0) as i64)
}

#[test]
fn every_example_conforms_to_the_input_schema_and_the_schemas_agree_on_context() {
    let schema = validator(CREATION_SCHEMA);
    for (name, input) in examples() {
        let problems = violations(&schema, &input);
        assert!(problems.is_empty(), "{name} breaks docs/schemas/link-creation-input.schema.json: {problems:#?}");
    }
    // Unknown settings are refused by the product, so by the schema too, at every level.
    let mut input: Value = serde_json::from_str(DESIGN_EXAMPLE).unwrap();
    for pointer in ["", "/formDocument", "/formDocument/fields/0", "/onTimeout"] {
        let mut bad = input.clone();
        bad.pointer_mut(pointer).unwrap()["colour"] = json!("red");
        assert!(!violations(&schema, &bad).is_empty(), "an unknown setting at {pointer:?} is refused");
    }
    input["formDocument"]["fields"][2]["min"] = json!(1);
    assert!(!violations(&schema, &input).is_empty(), "min does not apply to a text field");

    // The two schemas carry the same context definitions (one for the input, one for the message).
    let creation: Value = serde_json::from_str(CREATION_SCHEMA).unwrap();
    let continuation: Value = serde_json::from_str(CONTINUATION_SCHEMA).unwrap();
    for def in ["contextKey", "scalar", "contextValue", "context"] {
        assert_eq!(creation["$defs"][def], continuation["$defs"][def], "$defs/{def} differs between the schemas");
    }
}

#[test]
fn interfaces_md_shows_the_fixture_and_openapi_references_what_exists() {
    let interfaces = std::fs::read_to_string(docs().join("interfaces.md")).expect("docs/interfaces.md");
    let heading = "### Link creation — the Step Functions task's input\n```json\n";
    let start = interfaces.find(heading).expect("the link-creation heading and its json block") + heading.len();
    let block = &interfaces[start..start + interfaces[start..].find("```\n").expect("the end of the block")];
    assert_eq!(
        block, DESIGN_EXAMPLE,
        "interfaces.md's example is docs/examples/link-creation-input.json, byte for byte"
    );

    let openapi: Value =
        serde_json::from_str(&std::fs::read_to_string(docs().join("openapi.json")).expect("docs/openapi.json"))
            .unwrap();
    assert_eq!(openapi["openapi"], json!("3.1.0"));
    let mut refs = Vec::new();
    collect_refs(&openapi, &mut refs);
    for reference in refs {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference.as_str(), ""));
        let target: Value = if file.is_empty() {
            openapi.clone()
        } else {
            let text = std::fs::read_to_string(docs().join(file)).unwrap_or_else(|_| panic!("{file} exists"));
            serde_json::from_str(&text).unwrap()
        };
        assert!(target.pointer(pointer).is_some(), "openapi.json's $ref {reference} resolves");
    }
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref" | "externalValue", Value::String(reference)) => into.push(reference.clone()),
                    _ => collect_refs(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn every_example_is_accepted_and_every_continuation_conforms() {
    let first = examples().iter().map(|(_, input)| valid_at(input)).min().unwrap();
    let (t, clock) = TestServer::with_manual_clock(first).await;
    let mut created: Vec<(String, Value, Value)> = Vec::new();
    for (name, input) in examples() {
        clock.set(valid_at(&input));
        let (status, body) = t.create_raw(&input).await;
        assert_eq!(status, 200, "{name} is accepted as it stands: {body}");
        created.push((name, input, body));
    }

    // Submissions: from the page (form-urlencoded) and from a JSON client, on the design's example.
    let (_, input, _) = created.iter().find(|(name, ..)| name == "link-creation-input.json").unwrap();
    clock.set(valid_at(input));
    let (page_link, page_id) = t.create(input).await;
    let response = t.post_form(&page_link, "decision=approve&refund.amount=99.50&note=Fine&_submissionId=s-1").await;
    assert_eq!(response.status(), 200);
    let mut uses = input.clone();
    uses["maxUrlUses"] = json!(2);
    let (json_link, json_id) = t.create(&uses).await;
    let accepted = t
        .client
        .post(&json_link)
        .header("idempotency-key", "k-1")
        .json(&json!({"decision": "reject", "note": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.headers()["content-type"], "application/json");
    let body: Value = accepted.json().await.unwrap();
    assert_eq!(body, json!({"status": "accepted", "correlationId": input["correlationId"], "submissionId": "k-1"}));

    // A named reviewer's link (docs/examples/reviewers.json): the continuation says who submitted.
    let (_, reviewers_input, body) = created.iter().find(|(name, ..)| name == "reviewers.json").unwrap();
    clock.set(valid_at(reviewers_input));
    let reviewer_id = body["interventionId"].as_str().unwrap().to_owned();
    let links = body["context"]["approval.url"].as_object().expect("reviewer id → link");
    assert_eq!(links.len(), 3);
    let bob = links["bob@example.com"].as_str().unwrap();
    assert_eq!(t.post_form(bob, "decision=approve&_submissionId=bob-1").await.status(), 200);

    // A quorum (docs/examples/quorum.json): two approvals of three queue the one `approved` continuation.
    let (_, quorum_input, body) = created.iter().find(|(name, ..)| name == "quorum.json").unwrap();
    clock.set(valid_at(quorum_input));
    let quorum_id = body["interventionId"].as_str().unwrap().to_owned();
    let links = body["context"]["approval.url"].as_object().expect("reviewer id → link");
    for (who, sid) in [("ann@example.com", "q-1"), ("cy@example.com", "q-2")] {
        let link = links[who].as_str().unwrap();
        assert_eq!(t.post_form(link, &format!("decision=approve&_submissionId={sid}")).await.status(), 200);
    }

    // A timeout: the design's example has onTimeout; let its link expire unanswered.
    let (_, timeout_id) = t.create(input).await;
    let now = valid_at(input).plus_millis(3_600_000);
    clock.set(now);
    // The examples themselves, unanswered, time out too when they have onTimeout and have expired by now.
    let expired_examples = created
        .iter()
        .filter(|(_, input, body)| {
            input.get("onTimeout").is_some()
                && Timestamp::parse_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap() <= now
        })
        .count();

    // `continuations()` checks each message against docs/schemas/continuation.schema.json.
    let queued = t.wait_for_continuations(5 + expired_examples).await;
    for continuation in &queued {
        assert_continuation_conforms(continuation);
    }
    let outcome = |id: &str| queued.iter().find(|c| c["interventionId"] == json!(id)).map(|c| c["outcome"].clone());
    assert_eq!(outcome(&page_id), Some(json!("submitted")));
    assert_eq!(outcome(&json_id), Some(json!("submitted")));
    assert_eq!(outcome(&timeout_id), Some(json!("timedOut")));
    let by_reviewer = queued.iter().find(|c| c["interventionId"] == json!(reviewer_id)).expect("Bob's continuation");
    assert_eq!(by_reviewer["reviewerId"], json!("bob@example.com"));
    let decided = queued.iter().find(|c| c["interventionId"] == json!(quorum_id)).expect("the quorum's continuation");
    assert_eq!(decided["outcome"], json!("approved"));
    assert_eq!(decided["votes"].as_array().map(Vec::len), Some(2));
    assert_eq!(queued.len(), 5 + expired_examples, "one continuation each, nothing more");
}

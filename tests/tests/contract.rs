//! The contract in docs/ (interfaces.md, openapi.json, the JSON Schemas, the example inputs) against the
//! product: every example is accepted, every example conforms to the input schema, every continuation the
//! local server queues conforms to the continuation schema, and interfaces.md shows the fixture itself.
//! The answers schemathesis seldom provokes are checked here against openapi.json: a reused idempotency
//! key, a cancel that comes too late, and a record with a waiting run's `task`.

use intervention_tests::receipts;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use human_intervention::domain::id::InterventionId;
use human_intervention::domain::task::TaskAttachment;
use human_intervention::domain::time::{Clock, SystemClock, Timestamp};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::{MemoryQueue, MemoryScheduler, MemoryStore, MemoryTasks};
use human_intervention::service::{publish_outbox, Attached, Outlets, Service, SubmitRequest};
use intervention_tests::{
    assert_continuation_conforms, example, validator, violations, TestServer, CONTINUATION_SCHEMA, CREATION_SCHEMA,
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
    // A reminder (docs/examples/reminder.json): unanswered at half its hour, one `reminder` listing both
    // reminded reviewers with their links.
    let (_, reminder_input, body) = created.iter().find(|(name, ..)| name == "reminder.json").unwrap();
    let reminder_id = body["interventionId"].as_str().unwrap().to_owned();
    let reminder_links = body["context"]["approval.url"].clone();
    clock.set(valid_at(reminder_input).plus_millis(1_800_000));
    let so_far = t.wait_for_continuations(5).await;
    let reminder = so_far.iter().find(|c| c["interventionId"] == json!(reminder_id)).expect("the reminder");
    assert_eq!(reminder["outcome"], json!("reminder"));
    assert_eq!(reminder["id"], json!(format!("{reminder_id}:reminder")));
    assert_eq!(
        reminder["pendingReviewers"],
        json!([
            {"reviewerId": "ann@example.com", "name": "Ann Example", "link": reminder_links["ann@example.com"]},
            {"reviewerId": "cy@example.com", "name": "Cy Example", "link": reminder_links["cy@example.com"]},
        ])
    );
    let record: Value =
        t.client.get(format!("{}/interventions/{reminder_id}", t.url)).send().await.unwrap().json().await.unwrap();
    assert_conforms("InterventionRecord", &record);
    assert_eq!(record["continuationIds"], json!([format!("{reminder_id}:reminder")]));
    assert_eq!(record["remindedAt"], json!("2026-11-25T10:30:00.000Z"));

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
    let queued = t.wait_for_continuations(6 + expired_examples).await;
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
    assert_eq!(queued.len(), 6 + expired_examples, "one continuation each (and one reminder), nothing more");
}

/// A validator for one of openapi.json's component schemas (its references to the input schema's `$defs`
/// and the continuation schema's properties resolved to a copy of them; the two schemas' `$defs` agree).
fn openapi_validator(component: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(docs().join("openapi.json")).expect("docs/openapi.json");
    let text = text
        .replace("schemas/link-creation-input.schema.json#/$defs/", "#/$defs/")
        .replace("schemas/continuation.schema.json#/properties/", "#/continuation/properties/");
    let openapi: Value = serde_json::from_str(&text).unwrap();
    let creation: Value = serde_json::from_str(CREATION_SCHEMA).unwrap();
    let continuation: Value = serde_json::from_str(intervention_tests::CONTINUATION_SCHEMA).unwrap();
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{component}"),
        "components": openapi["components"],
        "$defs": creation["$defs"],
        "continuation": { "properties": continuation["properties"] },
    });
    validator(&root.to_string())
}

fn assert_conforms(component: &str, answer: &Value) {
    let problems = violations(&openapi_validator(component), answer);
    assert!(problems.is_empty(), "the answer breaks openapi.json's {component}: {problems:#?}\n{answer:#}");
}

#[tokio::test]
async fn the_idempotency_key_is_bounded_as_documented_and_a_reused_one_is_the_documented_409() {
    let t = TestServer::start().await;
    let schema = validator(CREATION_SCHEMA);
    let mut input = example();
    input["idempotencyKey"] = json!(
        "arn:aws:states:eu-west-1:123456789012:execution:refund:run-1/CreateApprovalLink/2026-12-01T10:00:00.123Z"
    );
    assert!(violations(&schema, &input).is_empty());
    let (status, first) = t.create_raw(&input).await;
    assert_eq!(status, 200, "{first}");
    assert_conforms("CreatedLink", &first);
    let (status, again) = t.create_raw(&input).await;
    assert_eq!((status, &again), (200, &first), "the same key and input answer the same output");

    let mut other = input.clone();
    other["context"]["order.amount"] = json!(99.5);
    let (status, refused) = t.create_raw(&other).await;
    assert_eq!(status, 409, "{refused}");
    assert_conforms("IdempotencyKeyReused", &refused);

    // The schema's bounds are the product's: what one refuses, the other refuses.
    let cases = [
        ("idempotencyKey", json!("k".repeat(512)), true),
        ("idempotencyKey", json!("k".repeat(513)), false),
        ("idempotencyKey", json!(""), false),
        ("idempotencyKey", json!("a\u{1}b"), false),
        ("idempotencyKey", json!("a\u{FFFF}b"), false),
        ("correlationId", json!("c".repeat(256)), true),
        ("correlationId", json!("c".repeat(257)), false),
    ];
    for (setting, value, accepted) in cases {
        let mut input = example();
        input[setting] = value.clone();
        let conforms = violations(&schema, &input).is_empty();
        let (status, body) = t.create_raw(&input).await;
        assert_eq!(conforms, accepted, "the schema on {setting} = {value}");
        if accepted {
            assert_eq!(status, 200, "{setting} = {value}: {body}");
        } else {
            assert_eq!((status, body["field"].as_str()), (400, Some(setting)), "{setting} = {value}: {body}");
            assert_conforms("InvalidInterventionConfig", &body);
        }
    }
}

#[tokio::test]
async fn a_cancel_before_an_answer_is_200_and_after_it_the_documented_409() {
    let t = TestServer::start().await;
    let cancel = |id: String| {
        let request = t.client.post(format!("{}/interventions/{id}/cancel", t.url));
        async move {
            let response = request.send().await.expect("cancel");
            (response.status().as_u16(), response.json::<Value>().await.expect("JSON"))
        }
    };
    let record = |id: String| {
        let request = t.client.get(format!("{}/interventions/{id}", t.url));
        async move { request.send().await.expect("record").json::<Value>().await.expect("JSON") }
    };

    let (_, live) = t.create(&example()).await;
    for _ in 0..2 {
        let (status, body) = cancel(live.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_conforms("Cancelled", &body);
    }

    let (link, answered) = t.create(&example()).await;
    assert_eq!(t.post_form(&link, "decision=approve&_submissionId=s-1").await.status(), 200);
    let before = record(answered.clone()).await;
    let (status, body) = cancel(answered.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_conforms("TooLate", &body);
    assert_eq!(body["state"], json!("completed"));
    assert_eq!(body["continuationIds"], json!([format!("{answered}:s-1")]));
    let after = record(answered).await;
    assert_eq!(after, before, "a cancel that comes too late changes nothing");
    assert_conforms("InterventionRecord", &after);
}

#[tokio::test]
async fn a_record_with_a_waiting_run_shows_its_task_as_documented_and_never_the_token() {
    let store = Arc::new(MemoryStore::new());
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![7; 32]).unwrap(), vec![]).unwrap());
    let tasks = Arc::new(MemoryTasks::new());
    let service = Service::new(store.clone(), keys, Arc::new(SystemClock), "http://127.0.0.1:3000")
        .with_scheduler(Arc::new(MemoryScheduler::new()))
        .with_tasks(tasks.clone())
        .with_receipts(std::sync::Arc::new(receipts().clone()));
    let queue = MemoryQueue::new();
    let outlets =
        Outlets { queue: &queue, tasks: Some(tasks.as_ref()), receipts: receipts(), messengers: Default::default() };
    let input = serde_json::to_vec(&example()).unwrap();
    let task = openapi_validator("TaskRecord");
    let at = "2026-12-01T10:00:00.000Z";
    for wrong in [
        json!({"state": "delivered", "at": at}),
        json!({"state": "gone", "at": at, "reason": "ThrottlingException"}),
        json!({"state": "waiting", "at": at, "reason": "TaskTimedOut"}),
        json!({"state": "waiting", "at": at, "taskToken": "t"}),
    ] {
        assert!(!violations(&task, &wrong).is_empty(), "openapi.json's TaskRecord refuses {wrong}");
    }

    // Each run: created, its token attached, answered by the reviewer, published; `gone` when the
    // run's task timed out before the answer.
    for (token, gone) in [("token-delivered-0123456789", false), ("token-gone-0123456789", true)] {
        let created = serde_json::to_value(service.create(&input).await.unwrap()).unwrap();
        let id = created["interventionId"].as_str().unwrap().to_owned();
        let intervention = InterventionId::parse(&id).unwrap();
        let read = || async { serde_json::to_value(service.record(&intervention).await.unwrap().unwrap()).unwrap() };
        tasks.issue(token);
        let attachment = TaskAttachment::from_payload(&json!({"interventionId": id, "taskToken": token}));
        assert_eq!(service.attach_task(&attachment.unwrap().unwrap()).await.unwrap(), Attached::Waiting);
        let waiting = read().await;
        assert_conforms("InterventionRecord", &waiting);
        assert_eq!(waiting["task"]["state"], json!("waiting"));

        if gone {
            tasks.time_out(token);
        }
        let link = created["context"]["approval.url"].as_str().unwrap();
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: b"decision=approve&_submissionId=s-1",
        };
        service.submit(link.rsplit('/').next().unwrap(), request).await.unwrap();
        let now = SystemClock.now();
        publish_outbox(store.as_ref(), outlets, now, now).await.unwrap();
        let settled = read().await;
        assert_conforms("InterventionRecord", &settled);
        assert!(!settled.to_string().contains(token), "a record never shows the token: {settled}");
        if gone {
            assert_eq!(settled["task"]["state"], json!("gone"));
            assert_eq!(settled["task"]["reason"], json!("TaskDoesNotExist"));
        } else {
            assert_eq!(settled["task"]["state"], json!("delivered"));
            assert_eq!(settled["task"]["continuationId"], json!(format!("{id}:s-1")));
            // The task's output is the continuation message itself.
            let output: Value = serde_json::from_str(&tasks.output(token).expect("answered")).unwrap();
            assert_continuation_conforms(&output);
            assert_eq!(output["id"], json!(format!("{id}:s-1")));
        }
    }
}

//! Golden fixtures: what one version of the code wrote (link tokens, DynamoDB items, the publisher's
//! stream event, SQS messages, the record route's JSON), committed in `tests/golden/`, and the proof that
//! this version still verifies those tokens, reads those items and answers those links exactly as then.
//! A link in a reviewer's mailbox and an item in a deployed table outlive every release: this test is
//! what keeps a refactoring from breaking them.
//!
//! `GOLDEN_CAPTURE=1` re-captures the fixtures (on a fresh moto table, deterministic inputs: fixed keys, a
//! manual clock, fixed submission ids; the intervention ids are random and recorded) and then compares
//! as usual. Without it a missing fixture fails the test. Re-capture only on purpose: a fixture that no
//! longer matches means links or items already out there would no longer work.
//!
//! Run: `tests/moto/with-moto.sh cargo test -p intervention-tests --features aws --test golden`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use intervention_tests::aws::AwsFixture;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

// Every item of the product's crate this test uses: when modules move, this block is all that changes.
use human_intervention::{
    aws::stream::{continuation_of, records_of, StreamRecord},
    aws::SqsQueue,
    domain::continuation::Continuation,
    domain::id::{InterventionId, SubmissionId},
    domain::time::{ManualClock, Timestamp},
    domain::token::{LinkKeys, VerifiedLink},
    memory::MemoryScheduler,
    ports::queue::ContinuationQueue,
    ports::store::InterventionStore,
    service::{Cancellation, Service, SubmitRequest, SubmitResult, View},
};

// ---- The capture's fixed inputs (recorded in scenario.json; the comparison reads them from there).

/// `k2` signs, `k1` (the key before a rotation) only verifies. Secrets: 32 ASCII bytes each, base64.
const SIGNING_KEYS: &str =
    "k2:Z29sZGVuLWZpeHR1cmUtbGluay1rZXktazItMzJieXQ=,k1:Z29sZGVuLWZpeHR1cmUtbGluay1rZXktazEtMzJieXQ=";
/// The rotated-out key alone, as it signed links before `k2` became the signing key.
const ROTATED_KEY: &str = "k1:Z29sZGVuLWZpeHR1cmUtbGluay1rZXktazEtMzJieXQ=";
const BASE_URL: &str = "https://links.example";
const CREATED_AT: &str = "2026-11-25T10:00:00.000Z";
const SUBMITTED_AT: &str = "2026-11-25T10:10:00.000Z";
const CANCELLED_AT: &str = "2026-11-25T10:20:00.000Z";
/// When the timeout fires, and the instant every view and record is answered at.
const INSTANT: &str = "2026-11-25T11:00:00.000Z";
const RUN_AVAILABLE_UNTIL: &str = "2026-11-26T10:00:00Z";
/// An id no item has: its link answers Not found.
const NEVER_STORED: &str = "goldenNeverStoredIdAAA";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The link-creation input of the contract (docs/interfaces.md, "Interfaces"; its own copy: the capture must not
/// move with other tests' fixtures); each planned intervention varies its expiry, uses and correlation id.
const CREATION_INPUT: &str = r#"{
  "environmentId": "prod-eu",
  "tier": "Shared",
  "correlationId": "0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10",
  "runAvailableUntil": "2026-11-25T12:00:00Z",
  "ruleSetId": "refund-continue",
  "urlExpirationHours": 1,
  "maxUrlUses": 1,
  "generatedUrlContextKey": "approval.url",
  "formDocument": {
    "title": "Approve refund",
    "prompt": "Refund **120.50 EUR** to the customer?",
    "show": ["order.id", "order.amount"],
    "fields": [
      { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
      { "key": "refund.amount", "label": "Amount", "type": "decimal", "min": 0, "max": 1000, "prefill": "order.amount" },
      { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500 }
    ]
  },
  "context": { "order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com" },
  "secretKeys": ["customer.email"],
  "onTimeout": { "ruleSetId": "refund-timeout", "context": { "decision": "reject" } }
}"#;

/// (name, urlExpirationHours, maxUrlUses) of the interventions captured.
const PLANNED: [(&str, f64, u32); 5] =
    [("pending", 2.0, 1), ("submitted", 2.0, 1), ("partlyUsed", 2.0, 2), ("timedOut", 1.0, 1), ("cancelled", 2.0, 1)];

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("an RFC 3339 instant")
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// A record without what it gained since the fixtures were captured (the proof of what was approved:
/// `action`, `shown`, `digest`, each submission's `changes`): the rest must read as captured.
fn without_proof(mut record: Value) -> Value {
    if let Some(object) = record.as_object_mut() {
        for added in ["action", "shown", "digest"] {
            object.remove(added);
        }
        for submission in object.get_mut("submissions").and_then(Value::as_array_mut).into_iter().flatten() {
            submission.as_object_mut().map(|s| s.remove("changes"));
        }
    }
    record
}

fn capture_mode() -> bool {
    std::env::var("GOLDEN_CAPTURE").is_ok_and(|v| v == "1")
}

// ---- The fixtures.

/// The fixture files, one per kind.
struct Golden {
    scenario: Value,
    tokens: Value,
    items: Value,
    stream: Value,
    sqs: Value,
    records: Value,
}

const FILES: [&str; 6] = ["scenario", "tokens", "items", "stream", "sqs", "records"];

static GOLDEN: OnceCell<Golden> = OnceCell::const_new();

/// The fixtures, captured first (once for all tests) under `GOLDEN_CAPTURE=1`.
async fn golden() -> &'static Golden {
    GOLDEN
        .get_or_init(|| async {
            if capture_mode() {
                capture().await;
            }
            let mut files: HashMap<&str, Value> = FILES
                .iter()
                .map(|name| {
                    let path = dir().join(format!("{name}.json"));
                    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                        panic!(
                            "golden fixture {} is missing ({e}); capture it on purpose with GOLDEN_CAPTURE=1",
                            path.display()
                        )
                    });
                    let value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("golden fixture {} is not JSON: {e}", path.display()));
                    (*name, value)
                })
                .collect();
            let mut take = |name: &str| files.remove(name).expect("loaded");
            Golden {
                scenario: take("scenario"),
                tokens: take("tokens"),
                items: take("items"),
                stream: take("stream"),
                sqs: take("sqs"),
                records: take("records"),
            }
        })
        .await
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("{key:?} is not a string in {value}"))
}

fn array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key].as_array().unwrap_or_else(|| panic!("{key:?} is not an array"))
}

fn id_of(value: &Value) -> InterventionId {
    InterventionId::parse(text(value, "interventionId")).expect("a canonical intervention id")
}

impl Golden {
    fn intervention(&self, name: &str) -> &Value {
        array(&self.scenario, "interventions")
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no intervention {name:?} in scenario.json"))
    }

    fn token(&self, name: &str) -> &str {
        let token = array(&self.tokens, "tokens")
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no token {name:?} in tokens.json"));
        text(token, "token")
    }

    fn instant(&self) -> Timestamp {
        at(text(&self.scenario, "instant"))
    }

    fn keys(&self) -> LinkKeys {
        LinkKeys::parse(text(&self.scenario, "signingKeys")).expect("the fixture's keys")
    }

    /// A service as the functions build it, with the fixture's keys, at the fixture's instant.
    fn service(&self, store: Arc<dyn InterventionStore>) -> Service {
        let clock = Arc::new(ManualClock::new(self.instant()));
        Service::new(store, Arc::new(self.keys()), clock, text(&self.scenario, "linkBaseUrl"))
            .with_scheduler(Arc::new(MemoryScheduler::new()))
    }
}

// ---- DynamoDB JSON, exactly as stored (every attribute type, keys sorted).

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        other => panic!("an attribute type the fixtures do not spell: {other:?}"),
    }
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    let sorted: BTreeMap<&String, Value> = item.iter().map(|(k, v)| (k, attribute_json(v))).collect();
    json!(sorted)
}

fn attribute_of(value: &Value) -> AttributeValue {
    let (kind, inner) = value.as_object().and_then(|o| o.iter().next()).expect("a typed attribute");
    let strings = || inner.as_array().expect("a set").iter().map(|s| s.as_str().expect("text").to_owned()).collect();
    match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str().expect("text").to_owned()),
        "N" => AttributeValue::N(inner.as_str().expect("a number as text").to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().expect("a boolean")),
        "NULL" => AttributeValue::Null(inner.as_bool().expect("a boolean")),
        "SS" => AttributeValue::Ss(strings()),
        "NS" => AttributeValue::Ns(strings()),
        "L" => AttributeValue::L(inner.as_array().expect("a list").iter().map(attribute_of).collect()),
        "M" => AttributeValue::M(item_of(inner)),
        other => panic!("an attribute type the fixtures do not spell: {other}"),
    }
}

fn item_of(value: &Value) -> HashMap<String, AttributeValue> {
    value.as_object().expect("an item").iter().map(|(k, v)| (k.clone(), attribute_of(v))).collect()
}

fn key_of(item: &Value) -> (String, String) {
    (item["pk"]["S"].as_str().expect("pk").to_owned(), item["sk"]["S"].as_str().expect("sk").to_owned())
}

/// Every item of the table, raw, ordered by key.
async fn scan(f: &AwsFixture) -> Vec<Value> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = f
            .dynamodb
            .scan()
            .table_name(f.store.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(output.items().iter().map(item_json));
        match output.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    items.sort_by_key(key_of);
    items
}

// ---- The publisher's input: a DynamoDB stream event, as Lambda delivers it.

/// The stream record (INSERT, NEW_IMAGE) of `item`, built as tests/lambda/flow.py's `stream_record`
/// builds it, with fixed ids.
fn stream_record(item: &Value, sequence: u128) -> Value {
    let outbox_at: f64 = item["outboxAt"]["N"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    json!({
        "eventID": format!("{sequence:032x}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": outbox_at / 1000.0,
            "Keys": { "pk": item["pk"], "sk": item["sk"] },
            "NewImage": item,
            "SequenceNumber": (100_000_000_000_000_000_000u128 + sequence).to_string(),
            "SizeBytes": item.to_string().len(),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/human-intervention/stream/2026-11-25T10:00:00.000",
    })
}

/// The event's records as the publisher reads them (its own reader).
fn stream_records(event: &Value) -> Vec<StreamRecord> {
    records_of(event.clone()).expect("a stream event")
}

// ---- SQS, raw.

async fn fifo_queue(f: &AwsFixture) -> SqsQueue {
    let name = format!("{}.fifo", f.store.table());
    let created = f
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("FIFO queue created");
    SqsQueue::new(f.sqs.clone(), created.queue_url.expect("a queue URL"))
}

/// The `expected` messages on the queue (received and deleted), raw: body, message attributes, and a FIFO
/// queue's group and de-duplication ids; ordered by continuation id.
async fn receive(f: &AwsFixture, url: &str, expected: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    for _ in 0..100 {
        let output = f
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        for message in output.messages.unwrap_or_default() {
            let attributes: BTreeMap<String, Value> = message
                .message_attributes()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (k.clone(), json!({ "DataType": v.data_type(), "StringValue": v.string_value() }))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut raw = json!({ "body": message.body().expect("a body"), "messageAttributes": attributes });
            for name in [MessageSystemAttributeName::MessageGroupId, MessageSystemAttributeName::MessageDeduplicationId]
            {
                if let Some(value) = message.attributes().and_then(|a| a.get(&name)) {
                    raw[name.as_str()] = json!(value);
                }
            }
            messages.push(raw);
            let handle = message.receipt_handle().expect("a receipt handle");
            f.sqs.delete_message().queue_url(url).receipt_handle(handle).send().await.expect("delete");
        }
        if messages.len() >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    messages.sort_by_key(|m| m["messageAttributes"]["continuationId"]["StringValue"].as_str().map(str::to_owned));
    messages
}

/// The outbox sweep's continuations, ordered by id (the index orders equal `outboxAt`s arbitrarily).
fn outbox_json(mut continuations: Vec<Continuation>) -> Value {
    continuations.sort_by(|a, b| a.id.cmp(&b.id));
    json!(continuations)
}

// ---- What a link answers.

fn view_json(view: &View) -> Value {
    match view {
        View::Live(page) => json!({ "answer": "live", "intervention": page.intervention }),
        View::Rejected(rejection) => json!({
            "answer": "rejected",
            "status": rejection.status(),
            "code": rejection.code(),
            "text": rejection.text(),
        }),
    }
}

fn submit_json(result: &SubmitResult) -> Value {
    match result {
        SubmitResult::Accepted { submission, .. } => json!({ "answer": "accepted", "submission": submission }),
        SubmitResult::Rejected(rejection) => json!({ "answer": "rejected", "text": rejection.text() }),
        SubmitResult::BadBody(error) => json!({ "answer": "badBody", "error": error.to_string() }),
        SubmitResult::Invalid { errors, .. } => json!({ "answer": "invalid", "fields": errors.0.len() }),
        SubmitResult::Conflict => json!({ "answer": "conflict" }),
        SubmitResult::ContinuationTooLarge { bytes } => json!({ "answer": "continuationTooLarge", "bytes": bytes }),
    }
}

async fn post(service: &Service, token: &str, post: &Value) -> SubmitResult {
    let request = SubmitRequest {
        content_type: post["contentType"].as_str(),
        idempotency_key: post["idempotencyKey"].as_str(),
        body: text(post, "body").as_bytes(),
    };
    service.submit(token, request).await.expect("the store answers")
}

// ---- Capture.

/// Which commit the fixtures come from (and whether the product's code differed from it).
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let head = git(&["rev-parse", "HEAD"]);
    let changed = git(&["status", "--porcelain", "--", "../shared/src", "../functions"]);
    if changed.is_empty() {
        head
    } else {
        format!("{head} (with uncommitted changes to shared/src or functions/)")
    }
}

fn note(what: &str, commit: &str) -> Value {
    json!(format!(
        "{what} Captured from commit {commit} by tests/tests/golden.rs (GOLDEN_CAPTURE=1); see tests/golden/README.md."
    ))
}

fn write(name: &str, value: &Value) {
    let path = dir().join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).expect("JSON") + "\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    eprintln!("golden: wrote {}", path.display());
}

/// Runs the scenario on a fresh table with today's code and writes every fixture.
async fn capture() {
    let commit = commit();
    std::fs::create_dir_all(dir()).expect("tests/golden");
    let f = AwsFixture::new(false).await;
    let fifo = fifo_queue(&f).await;
    let clock = Arc::new(ManualClock::new(at(CREATED_AT)));
    let keys = LinkKeys::parse(SIGNING_KEYS).expect("keys");
    let service = Service::new(f.store.clone(), Arc::new(keys.clone()), clock.clone(), BASE_URL)
        .with_scheduler(Arc::new(MemoryScheduler::new()));

    // Created at CREATED_AT.
    let mut interventions = Vec::new();
    let mut tokens = Vec::new();
    for (name, hours, max_uses) in PLANNED {
        let mut input: Value = serde_json::from_str(CREATION_INPUT).expect("JSON");
        input["runAvailableUntil"] = json!(RUN_AVAILABLE_UNTIL);
        input["correlationId"] = json!(format!("golden-{name}"));
        input["urlExpirationHours"] = json!(hours);
        input["maxUrlUses"] = json!(max_uses);
        let created = service.create(input.to_string().as_bytes()).await.expect("created");
        let output = serde_json::to_value(&created).expect("JSON");
        let link = text(&output["context"], "approval.url");
        let token = link.strip_prefix(&format!("{BASE_URL}/i/")).expect("a link under the base URL").to_owned();
        tokens.push(json!({
            "name": name,
            "interventionId": created.intervention_id,
            "expiresAt": created.expires_at,
            "expiresAtMillis": at(&created.expires_at).millis(),
            "kid": keys.signing_kid(),
            "token": token,
        }));
        interventions
            .push(json!({ "name": name, "interventionId": created.intervention_id, "input": input, "output": output }));
    }
    let pending = interventions[0].clone();
    let expires = at(text(&tokens[0], "expiresAt"));
    let rotated = LinkKeys::parse(ROTATED_KEY).expect("the rotated key").sign(&id_of(&pending), expires);
    tokens.push(json!({
        "name": "pendingRotatedKey",
        "interventionId": pending["interventionId"],
        "expiresAt": expires.to_rfc3339(),
        "expiresAtMillis": expires.millis(),
        "kid": "k1",
        "token": rotated,
    }));
    let never = InterventionId::parse(NEVER_STORED).expect("a canonical id");
    tokens.push(json!({
        "name": "neverStored",
        "interventionId": NEVER_STORED,
        "expiresAt": expires.to_rfc3339(),
        "expiresAtMillis": expires.millis(),
        "kid": keys.signing_kid(),
        "token": keys.sign(&never, expires),
    }));
    let token_of = |name: &str| text(tokens.iter().find(|t| t["name"] == name).expect("token"), "token").to_owned();

    // Submitted at SUBMITTED_AT: one from the page (form-encoded, with a key that is not on the form), one
    // from a JSON client.
    clock.set(at(SUBMITTED_AT));
    let posts = vec![
        json!({
            "intervention": "submitted",
            "at": SUBMITTED_AT,
            "contentType": FORM,
            "idempotencyKey": null,
            "body": "decision=approve&refund.amount=100&note=ok&status=hacked&_submissionId=golden-submitted-1",
            "submissionId": "golden-submitted-1",
        }),
        json!({
            "intervention": "partlyUsed",
            "at": SUBMITTED_AT,
            "contentType": JSON,
            "idempotencyKey": "golden-partly-used-1",
            "body": r#"{"decision":"reject","note":"needs a second look"}"#,
            "submissionId": "golden-partly-used-1",
        }),
    ];
    for p in &posts {
        let result = post(&service, &token_of(text(p, "intervention")), p).await;
        assert_eq!(submit_json(&result)["answer"], "accepted", "{}", submit_json(&result));
    }
    clock.set(at(CANCELLED_AT));
    let cancelled = interventions.iter().find(|i| i["name"] == "cancelled").expect("cancelled");
    assert_eq!(service.cancel(&id_of(cancelled)).await.expect("cancelled"), Cancellation::Cancelled);
    clock.set(at(INSTANT));
    let timed_out = interventions.iter().find(|i| i["name"] == "timedOut").expect("timedOut");
    let outcome = service.fire_timeout(&id_of(timed_out)).await.expect("timeout");
    assert_eq!(format!("{outcome:?}"), "Queued");

    // Everything as stored.
    let items = scan(&f).await;
    let mut reads = Vec::new();
    for i in &interventions {
        let id = id_of(i);
        let submissions = f.store.submissions(&id).await.expect("submissions");
        let mut found = BTreeMap::new();
        for s in &submissions {
            found.insert(
                s.submission_id.to_string(),
                f.store.find_submission(&id, &s.submission_id).await.expect("find"),
            );
        }
        reads.push(json!({
            "name": i["name"],
            "interventionId": i["interventionId"],
            "get": f.store.get(&id).await.expect("get"),
            "submissions": submissions,
            "findSubmission": found,
        }));
    }
    let month = at(SUBMITTED_AT).year_month();
    let allowance = f.store.allowance_used("prod-eu", &month).await.expect("allowance");
    let unpublished =
        outbox_json(f.store.unpublished(100, Timestamp::from_millis(i64::MAX)).await.expect("the outbox"));

    // What each link answers, and each record, at INSTANT.
    for token in &mut tokens {
        token["view"] = view_json(&service.view(text(token, "token")).await.expect("view"));
    }
    let mut records = Vec::new();
    for i in &interventions {
        records.push(json!({
            "name": i["name"],
            "interventionId": i["interventionId"],
            "record": service.record(&id_of(i)).await.expect("record"),
        }));
    }

    // The publisher's stream event for the outbox items (submissions first, then the timeout), and the
    // continuations it derives.
    let outbox: Vec<&Value> = ["submitted", "partlyUsed", "timedOut"]
        .iter()
        .flat_map(|name| {
            let pk = format!(
                "I#{}",
                text(interventions.iter().find(|i| i["name"] == *name).expect("planned"), "interventionId")
            );
            items.iter().filter(move |item| key_of(item).0 == pk && key_of(item).1 != "I")
        })
        .collect();
    assert_eq!(outbox.len(), 3, "two submissions and one timeout");
    let event =
        json!({ "Records": outbox.iter().zip(1..).map(|(item, n)| stream_record(item, n)).collect::<Vec<_>>() });
    let records_in = stream_records(&event);
    let continuations: Vec<Continuation> =
        records_in.iter().map(|r| continuation_of(r).expect("an outbox record").expect("readable")).collect();
    let derived: Vec<Value> = records_in
        .iter()
        .zip(&continuations)
        .map(|(r, c)| json!({ "sequenceNumber": r.sequence_number, "continuation": c }))
        .collect();

    // What SqsQueue sends, as SQS delivers it.
    f.queue.send_batch(&continuations).await.expect("sent");
    fifo.send_batch(&continuations).await.expect("sent");
    let standard = receive(&f, f.queue.url(), continuations.len()).await;
    let fifo_messages = receive(&f, fifo.url(), continuations.len()).await;

    write(
        "scenario",
        &json!({
            "note": note("The fixed inputs of the capture: keys, clock instants, link-creation inputs and the posts; the intervention ids the service generated.", &commit),
            "capturedFrom": commit,
            "signingKeys": SIGNING_KEYS,
            "rotatedKey": ROTATED_KEY,
            "linkBaseUrl": BASE_URL,
            "createdAt": CREATED_AT,
            "cancelledAt": CANCELLED_AT,
            "instant": INSTANT,
            "interventions": interventions,
            "posts": posts,
            "freshPost": {
                "intervention": "pending",
                "contentType": FORM,
                "idempotencyKey": null,
                "body": "decision=reject&note=fresh&_submissionId=golden-fresh-1",
                "submissionId": "golden-fresh-1",
            },
        }),
    );
    write(
        "tokens",
        &json!({
            "note": note("Link tokens v1.<kid>.<body> as signed (k2 signs; k1 is a rotated-out key that only verifies), and what each link answers (Service::view) at the scenario's instant.", &commit),
            "capturedFrom": commit,
            "tokens": tokens,
        }),
    );
    write(
        "items",
        &json!({
            "note": note("Every DynamoDB item of the scenario's table exactly as stored (DynamoDB JSON from a raw Scan), and what DynamoStore reads from them (get, submissions, find_submission, unpublished, allowance_used).", &commit),
            "capturedFrom": commit,
            "items": items,
            "reads": reads,
            "allowance": { "environmentId": "prod-eu", "yearMonth": month, "used": allowance },
            "unpublished": unpublished,
        }),
    );
    write(
        "stream",
        &json!({
            "note": note("The DynamoDB stream event (INSERT, NEW_IMAGE) the publisher Lambda receives for the outbox items, built from the stored items as tests/lambda/flow.py builds it, and the continuation the publisher derives from each record.", &commit),
            "capturedFrom": commit,
            "event": event,
            "continuations": derived,
        }),
    );
    write(
        "sqs",
        &json!({
            "note": note("The continuation messages SqsQueue sent, received raw from SQS (moto): exact bodies, message attributes, and on the FIFO queue the group and de-duplication ids; ordered by continuation id.", &commit),
            "capturedFrom": commit,
            "standard": standard,
            "fifo": fifo_messages,
        }),
    );
    write(
        "records",
        &json!({
            "note": note("The record route's JSON (Service::record) of each intervention at the scenario's instant.", &commit),
            "capturedFrom": commit,
            "instant": INSTANT,
            "records": records,
        }),
    );
}

// ---- The comparisons.

#[tokio::test]
async fn link_tokens_are_signed_and_verified_as_captured() {
    let g = golden().await;
    let keys = g.keys();
    let rotated = LinkKeys::parse(text(&g.scenario, "rotatedKey")).expect("the rotated key");
    let tokens = array(&g.tokens, "tokens");
    assert!(tokens.len() >= 3, "tokens.json holds the links");
    for t in tokens {
        let id = id_of(t);
        let expires_at = Timestamp::from_millis(t["expiresAtMillis"].as_i64().expect("millis"));
        assert_eq!(
            expires_at.to_rfc3339(),
            text(t, "expiresAt"),
            "{}: the two spellings of the expiry agree",
            t["name"]
        );
        let signer = if text(t, "kid") == keys.signing_kid() { &keys } else { &rotated };
        assert_eq!(signer.signing_kid(), text(t, "kid"), "{}: signed by the captured key id", t["name"]);
        assert_eq!(
            signer.sign(&id, expires_at),
            text(t, "token"),
            "{}: sign reproduces the token byte for byte",
            t["name"]
        );
        assert_eq!(
            keys.verify(text(t, "token")),
            Some(VerifiedLink { intervention_id: id, expires_at, reviewer: None, option: None }),
            "{}: the configured keys verify it to the same id and expiry",
            t["name"]
        );
    }
    assert!(tokens.iter().any(|t| text(t, "kid") != keys.signing_kid()), "one token of the rotated key");
}

#[tokio::test]
async fn stream_records_give_the_captured_continuations() {
    let g = golden().await;
    let records = stream_records(&g.stream["event"]);
    let captured = array(&g.stream, "continuations");
    assert_eq!(records.len(), captured.len());
    let items = array(&g.items, "items");
    for (record, expected) in records.iter().zip(captured) {
        assert_eq!(record.sequence_number, text(expected, "sequenceNumber"));
        assert!(items.contains(&record.new_image), "the event's image is a stored item");
        let continuation = continuation_of(record).expect("an outbox record").expect("a readable continuation");
        assert_eq!(
            serde_json::to_value(&continuation).expect("JSON"),
            expected["continuation"],
            "record {}",
            record.sequence_number
        );
        let body = serde_json::to_string(&continuation).expect("JSON");
        let sent = array(&g.sqs, "standard")
            .iter()
            .find(|m| m["messageAttributes"]["continuationId"]["StringValue"] == continuation.id.as_str())
            .expect("the continuation was sent");
        assert_eq!(body, text(sent, "body"), "the derived continuation is the sent body, byte for byte");
    }
}

#[tokio::test]
async fn continuation_bodies_deserialize_and_serialize_back_byte_identical() {
    let g = golden().await;
    let derived = array(&g.stream, "continuations");
    for queue in ["standard", "fifo"] {
        let messages = array(&g.sqs, queue);
        assert_eq!(messages.len(), derived.len(), "{queue}: one message per continuation");
        for message in messages {
            let body = text(message, "body");
            let continuation: Continuation = serde_json::from_str(body).expect("the body is a Continuation");
            assert_eq!(serde_json::to_string(&continuation).expect("JSON"), body, "{queue}: byte-identical");
            assert!(derived.iter().any(|d| d["continuation"] == serde_json::to_value(&continuation).unwrap()));
        }
    }
}

#[tokio::test]
async fn sqs_queue_sends_the_captured_bodies_and_attributes() {
    let g = golden().await;
    let f = AwsFixture::new(false).await;
    let fifo = fifo_queue(&f).await;
    for (name, queue) in [("standard", f.queue.as_ref()), ("fifo", &fifo)] {
        let captured = array(&g.sqs, name);
        let continuations: Vec<Continuation> =
            captured.iter().map(|m| serde_json::from_str(text(m, "body")).expect("a Continuation")).collect();
        queue.send_batch(&continuations).await.expect("sent");
        let received = receive(&f, queue.url(), captured.len()).await;
        assert_eq!(&received, captured, "{name}: the same bodies (byte for byte) and attributes");
    }
}

#[tokio::test]
async fn stored_items_read_and_links_answer_as_captured() {
    let g = golden().await;
    let f = AwsFixture::new(false).await;
    let items = array(&g.items, "items");
    for item in items {
        f.dynamodb.put_item().table_name(f.store.table()).set_item(Some(item_of(item))).send().await.expect("put");
    }
    assert_eq!(&scan(&f).await, items, "the table holds the fixture's items as they are");
    let store: Arc<dyn InterventionStore> = f.store.clone();

    // The store reads them to the captured values.
    for read in array(&g.items, "reads") {
        let id = id_of(read);
        let name = &read["name"];
        let got = store.get(&id).await.expect("get");
        assert_eq!(serde_json::to_value(&got).unwrap(), read["get"], "{name}: get");
        let submissions = store.submissions(&id).await.expect("submissions");
        assert_eq!(serde_json::to_value(&submissions).unwrap(), read["submissions"], "{name}: submissions");
        for (submission_id, expected) in read["findSubmission"].as_object().expect("a map") {
            let submission_id = SubmissionId::parse(submission_id).expect("a submission id");
            let found = store.find_submission(&id, &submission_id).await.expect("find");
            assert_eq!(&serde_json::to_value(&found).unwrap(), expected, "{name}: find_submission {submission_id}");
        }
    }
    let outbox = outbox_json(store.unpublished(100, Timestamp::from_millis(i64::MAX)).await.expect("the outbox"));
    assert_eq!(outbox, g.items["unpublished"], "unpublished: what the outbox sweep reads and sends");
    let allowance = &g.items["allowance"];
    let used = store.allowance_used(text(allowance, "environmentId"), text(allowance, "yearMonth")).await.unwrap();
    assert_eq!(Some(used), allowance["used"].as_u64(), "allowance_used");

    // Each link answers as it did, and each record reads as it did.
    let service = g.service(store.clone());
    for t in array(&g.tokens, "tokens") {
        let view = service.view(text(t, "token")).await.expect("view");
        assert_eq!(view_json(&view), t["view"], "{}: the link answers as captured", t["name"]);
    }
    for r in array(&g.records, "records") {
        let record = serde_json::to_value(service.record(&id_of(r)).await.expect("record")).unwrap();
        assert!(record["digest"].is_string() && record["shown"].is_object(), "{}: the record has its proof", r["name"]);
        assert_eq!(without_proof(record), without_proof(r["record"].clone()), "{}: record", r["name"]);
    }

    // A repeat of each captured submission is the same submission and changes nothing.
    for p in array(&g.scenario, "posts") {
        let name = text(p, "intervention");
        let result = post(&service, g.token(name), p).await;
        let read = array(&g.items, "reads").iter().find(|r| r["name"] == name).expect("reads");
        let expected = &read["findSubmission"][text(p, "submissionId")];
        assert_eq!(submit_json(&result), json!({ "answer": "accepted", "submission": expected }), "{name}: repeat");
    }
    assert_eq!(&scan(&f).await, items, "a repeat changes nothing: same uses, no second outbox item");

    // A fresh submission on the pending link is accepted and recorded.
    let fresh = &g.scenario["freshPost"];
    let name = text(fresh, "intervention");
    let result = post(&service, g.token(name), fresh).await;
    assert_eq!(submit_json(&result)["answer"], "accepted", "{}", submit_json(&result));
    let id = id_of(g.intervention(name));
    assert_eq!(store.get(&id).await.unwrap().expect("stored").uses, 1);
    let fresh_id = SubmissionId::parse(text(fresh, "submissionId")).expect("a submission id");
    let recorded = store.find_submission(&id, &fresh_id).await.unwrap().expect("recorded");
    assert_eq!(recorded.submitted_at, g.instant());
    let after = scan(&f).await;
    let new_item = after
        .iter()
        .find(|i| key_of(i) == (format!("I#{id}"), format!("S#{}", text(fresh, "submissionId"))))
        .expect("the submission item");
    assert_eq!(new_item["outbox"], json!({ "S": "pending" }), "in the outbox");
    let month = g.instant().year_month();
    let before = if month == text(allowance, "yearMonth") { used } else { 0 };
    assert_eq!(store.allowance_used(text(allowance, "environmentId"), &month).await.unwrap(), before + 1);
}

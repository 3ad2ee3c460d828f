//! AWS's own rules, held by the product rather than discovered in production: SQS's characters and sizes
//! (moto accepts any, so each test checks the bytes that were sent against SQS's rule itself), the sweep
//! that never races the stream, and a repeat of an accepted submission on a DynamoDB that honours
//! `ClientRequestToken` (dynoxide, when `make test` runs it).

use intervention_tests::receipts;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use human_intervention::aws::stream::publish_records;
use human_intervention::domain::continuation::{is_sendable, Continuation, MAX_MESSAGE_BYTES};
use human_intervention::domain::id::{InterventionId, SubmissionId};
use human_intervention::domain::time::{Clock, ManualClock, SystemClock, Timestamp};
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::{publish_outbox, Outlets, SubmitRequest, SubmitResult, SWEEP_AFTER_MILLIS};
use human_intervention::web::local::{Backend, LocalConfig};
use intervention_tests::aws::AwsFixture;
use intervention_tests::{example, TestServer};
use serde_json::{json, Value};

async fn server_on(f: &AwsFixture) -> TestServer {
    let backend = Backend::Adapters { store: f.store.clone(), queue: f.queue.clone() };
    TestServer::with_config(LocalConfig { backend, ..LocalConfig::default() }).await
}

/// Every message on the queue, raw: (body, attributes), received and deleted; waits for `expected`.
async fn raw_messages(f: &AwsFixture, expected: usize) -> Vec<(String, BTreeMap<String, String>)> {
    let mut all = Vec::new();
    for _ in 0..100 {
        let output = f
            .sqs
            .receive_message()
            .queue_url(f.queue.url())
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        let messages = output.messages.unwrap_or_default();
        for message in &messages {
            let attributes = message
                .message_attributes()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_owned())).collect())
                .unwrap_or_default();
            all.push((message.body().expect("a body").to_owned(), attributes));
            if let Some(handle) = message.receipt_handle() {
                f.sqs.delete_message().queue_url(f.queue.url()).receipt_handle(handle).send().await.expect("delete");
            }
        }
        if messages.is_empty() {
            if all.len() >= expected {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    all
}

/// SQS's rule, checked on what was sent (moto does not check it).
fn assert_sqs_accepts(body: &str, attributes: &BTreeMap<String, String>) {
    assert!(body.chars().all(is_sendable), "a body SQS refuses: {:?}", body.chars().find(|c| !is_sendable(*c)));
    for (name, value) in attributes {
        assert!(value.chars().all(is_sendable), "attribute {name} has a character SQS refuses");
    }
    let attribute_bytes: usize = attributes.iter().map(|(k, v)| k.len() + "String".len() + v.len()).sum();
    assert!(body.len() + attribute_bytes <= MAX_MESSAGE_BYTES, "a message over SQS's size");
}

fn percent_encode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn a_reviewers_noncharacters_and_emoji_arrive_in_the_sqs_body_exactly_as_typed() {
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let (link, id) = t.create(&example()).await;
    let typed = "U+FFFF \u{FFFF}, U+FFFE \u{FFFE}, an emoji \u{1F600}, a tab\t.";
    let response =
        t.post_form(&link, &format!("decision=approve&note={}&_submissionId=s1", percent_encode(typed))).await;
    assert_eq!(response.status(), 200);
    let messages = raw_messages(&f, 1).await;
    assert_eq!(messages.len(), 1);
    let (body, attributes) = &messages[0];
    assert_sqs_accepts(body, attributes);
    assert!(body.contains("\\uFFFF") && body.contains("\\uFFFE"), "escaped in the body");
    let decoded: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(decoded["context"]["note"], json!(typed), "the consumer reads what was typed");
    assert_eq!(decoded["id"], json!(format!("{id}:s1")));
    assert_eq!(attributes["continuationId"], format!("{id}:s1"));
}

#[tokio::test]
async fn nine_continuations_of_120_kb_are_all_delivered_in_batches_sqs_takes() {
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let mut input = example();
    input["maxUrlUses"] = json!(9);
    input["context"]["order.history"] = json!("h".repeat(120_000));
    let (link, id) = t.create(&input).await;
    for i in 0..9 {
        let response = t.post_form(&link, &format!("decision=approve&_submissionId=s{i}")).await;
        assert_eq!(response.status(), 200, "submission {i}");
    }
    let messages = raw_messages(&f, 9).await;
    let mut ids: Vec<String> = Vec::new();
    for (body, attributes) in &messages {
        assert_sqs_accepts(body, attributes);
        assert!(body.len() > 120_000);
        ids.push(attributes["continuationId"].clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 9, "all nine delivered");
    assert!(ids.iter().all(|c| c.starts_with(&id)));
    assert!(f.store.unpublished(10, Timestamp::from_millis(i64::MAX)).await.unwrap().is_empty(), "none left behind");
}

#[tokio::test]
async fn a_continuation_that_could_never_be_sent_is_refused_with_its_422_before_anything_is_counted() {
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let mut input = example();
    input["maxUrlUses"] = json!(2);
    input["formDocument"]["fields"][2]["maxLength"] = json!(10_000);
    input["context"]["order.history"] = json!("h".repeat(255_000));
    let (link, id) = t.create(&input).await;
    let response = t
        .client
        .post(&link)
        .header("content-type", "application/json")
        .header("idempotency-key", "big-1")
        .json(&json!({"decision": "approve", "note": "x".repeat(10_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], json!("continuation_too_large"));
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!((record["uses"].clone(), record["submissions"].clone()), (json!(0), json!([])), "nothing counted");
    assert_eq!(f.store.allowance_used("prod-eu", &SystemClock.now().year_month()).await.unwrap(), 0);
    let small = t.post_form(&link, "decision=approve&note=ok&_submissionId=small").await;
    assert_eq!(small.status(), 200, "a smaller answer on the same link is accepted");
    // A context that could never be sent is refused at creation, naming the setting: 50,000 U+FFFF are
    // 150 KB in the input and 300 KB escaped in a continuation's body.
    let mut never = example();
    never["context"]["order.history"] = json!("\u{FFFF}".repeat(50_000));
    let (status, body) = t.create_raw(&never).await;
    assert_eq!((status, body["field"].clone()), (400, json!("context")), "{}", body["errorMessage"]);
}

/// Records `count` submissions on a fresh link through the service alone (no publisher running).
async fn recorded(f: &AwsFixture, count: usize) -> String {
    let t = server_on(f).await;
    let mut input = example();
    input["maxUrlUses"] = json!(count);
    let (link, id) = t.create(&input).await;
    // Only the publishers under test send: the server's own in-process publisher stops here.
    t.server.stop();
    let token = link.rsplit('/').next().unwrap();
    for i in 0..count {
        let body = format!("decision=approve&_submissionId=r{i}");
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        let result = t.server.service.submit(token, request).await.unwrap();
        assert!(matches!(result, SubmitResult::Accepted { .. }), "submission {i}");
    }
    id
}

#[tokio::test]
async fn the_stream_and_the_sweep_together_send_each_continuation_once() {
    let f = AwsFixture::new(false).await;
    let id = recorded(&f, 5).await;
    let records = f.submission_records(&id).await;
    let now = SystemClock.now();
    // Both run at once, as on AWS when the sweep's schedule fires while the stream publishes.
    let (stream, swept) = tokio::join!(
        publish_records(
            &records,
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            f.store.as_ref(),
            now
        ),
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            now.plus_millis(-SWEEP_AFTER_MILLIS),
            now
        ),
    );
    assert_eq!(stream, None, "the stream sent them all");
    assert_eq!(swept.unwrap(), 0, "the sweep left the fresh ones to the stream");
    let messages = raw_messages(&f, 5).await;
    let mut ids: Vec<String> = messages.iter().map(|(_, a)| a["continuationId"].clone()).collect();
    assert_eq!(ids.len(), 5, "five messages, no duplicate");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    // What the stream never delivered, the sweep sends once it is old enough, and only once.
    let later = recorded(&f, 3).await;
    let old_enough = SystemClock.now().plus_millis(SWEEP_AFTER_MILLIS);
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            old_enough,
            old_enough
        )
        .await
        .unwrap(),
        3
    );
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            old_enough,
            old_enough
        )
        .await
        .unwrap(),
        0
    );
    let swept: Vec<String> = raw_messages(&f, 3).await.iter().map(|(_, a)| a["continuationId"].clone()).collect();
    assert_eq!(swept.len(), 3);
    assert!(swept.iter().all(|c| c.starts_with(&later)));
}

#[tokio::test]
async fn a_repeat_of_an_accepted_submission_is_the_first_at_once_and_after_the_token_window() {
    let f = AwsFixture::new(false).await;
    let clock = Arc::new(ManualClock::new(Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap()));
    let backend = Backend::Adapters { store: f.store.clone(), queue: f.queue.clone() };
    let t = TestServer::with_config(LocalConfig { backend, clock: clock.clone(), ..LocalConfig::default() }).await;
    let mut input = intervention_tests::design_example("2026-11-26T10:00:00Z");
    input["maxUrlUses"] = json!(3);
    let (link, id) = t.create(&input).await;
    let post = || async {
        let response = t
            .client
            .post(&link)
            .header("content-type", "application/json")
            .header("idempotency-key", "once-1")
            .json(&json!({"decision": "approve", "note": "the same"}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    let first = post().await;
    assert_eq!(first.0, 200, "{}", first.1);
    // At once: the same request again, within DynamoDB's ten-minute ClientRequestToken window.
    assert_eq!(post().await, first);
    clock.advance(1_000);
    assert_eq!(post().await, first, "a second later");
    // After the window (the clock moves eleven minutes; the link is live for an hour).
    clock.advance(11 * 60_000);
    assert_eq!(post().await, first, "after the token window");
    let parsed = InterventionId::parse(&id).unwrap();
    assert_eq!(f.store.get(&parsed).await.unwrap().unwrap().uses, 1, "counted once");
    assert_eq!(f.store.submissions(&parsed).await.unwrap().len(), 1, "recorded once");
    let submission = SubmissionId::parse("once-1").unwrap();
    assert!(f.store.find_submission(&parsed, &submission).await.unwrap().is_some());
    let sent: Vec<Continuation> = {
        let mut all = Vec::new();
        for (body, _) in raw_messages(&f, 1).await {
            all.push(serde_json::from_str(&body).unwrap());
        }
        all
    };
    assert_eq!(sent.len(), 1, "one continuation");
}

/// A P-256 signing key in KMS (moto's), as the template creates it.
async fn kms_key(kms: &aws_sdk_kms::Client) -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("a key");
    created.key_metadata.expect("its metadata").key_id
}

/// Creates a link for run `run` asking about `action`, posts `body` through it, and publishes what it
/// queued with `receipts`.
async fn decided(
    f: &AwsFixture,
    service: &human_intervention::service::Service,
    receipts: &dyn human_intervention::ports::receipts::ReceiptSigner,
    run: &str,
    action: &Value,
    body: &str,
) -> String {
    let mut input = intervention_tests::design_example("2026-12-31T10:00:00Z");
    input["correlationId"] = json!(run);
    input["action"] = action.clone();
    input.as_object_mut().unwrap().remove("onTimeout");
    let created = service.create(input.to_string().as_bytes()).await.expect("created");
    let token = created.context["approval.url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let request = SubmitRequest {
        content_type: Some("application/x-www-form-urlencoded"),
        idempotency_key: None,
        body: body.as_bytes(),
    };
    let result = service.submit(&token, request).await.unwrap();
    assert!(matches!(result, SubmitResult::Accepted { .. }), "{result:?}");
    let outlets = Outlets { queue: f.queue.as_ref(), tasks: None, receipts, messengers: Default::default() };
    let now = SystemClock.now();
    assert_eq!(publish_outbox(f.store.as_ref(), outlets, now, now).await.unwrap(), 1);
    created.intervention_id
}

/// KMS signs the receipts (RAW, 32 bytes: far inside its 4,096-byte limit, which moto does not enforce);
/// the library verifies them with the published keys, a rotated-out key's too; and the Python consumer
/// example, with `cryptography` and another RFC 8785 implementation, verifies them independently, checks
/// the digest against its own copy of the action, de-duplicates and skips reminders, on moto's queue.
#[tokio::test]
async fn kms_receipts_verify_here_and_in_the_python_consumer_and_a_rotated_out_key_still_verifies() {
    use human_intervention::aws::kms::{KmsReceipts, MAX_RAW_MESSAGE_BYTES};
    use human_intervention::domain::proof::receipt::{self, ReceiptError};
    use human_intervention::ports::receipts::ReceiptSigner;
    const { assert!(32 <= MAX_RAW_MESSAGE_BYTES) };
    let f = AwsFixture::new(false).await;
    let kms = aws_sdk_kms::Client::new(&f.config);
    let (old_key, new_key) = (kms_key(&kms).await, kms_key(&kms).await);
    let old = KmsReceipts::new(kms.clone(), vec![old_key.clone()]).unwrap();
    let rotated = KmsReceipts::new(kms.clone(), vec![new_key.clone(), old_key.clone()]).unwrap();
    let keys = human_intervention::domain::token::LinkKeys::parse(&format!("k1:{}", "A".repeat(44))).unwrap();
    let service = human_intervention::service::Service::new(
        f.store.clone(),
        Arc::new(keys),
        Arc::new(SystemClock),
        "http://l.example",
    );
    let refund = |order: &str, amount: &str| json!({"refund": {"order": order, "amount": amount, "currency": "EUR"}});
    let body = |amount: &str| {
        format!("decision=approve&refund.amount={amount}&note=ok&_submissionId=s{}", amount.replace('.', "-"))
    };
    // Run A answered before the rotation (the old key signs), with the amount changed; run B after it.
    let a = decided(&f, &service, &old, "run-a", &refund("A-1001", "120.50"), &body("80")).await;
    let b = decided(&f, &service, &rotated, "run-b", &refund("A-2002", "75.00"), &body("120.5")).await;
    let c = decided(&f, &service, &rotated, "run-c", &refund("A-3003", "10.00"), &body("120.5")).await;
    let bodies: BTreeMap<String, Value> = raw_messages(&f, 3)
        .await
        .into_iter()
        .map(|(text, _)| serde_json::from_str::<Value>(&text).unwrap())
        .map(|v| (v["interventionId"].as_str().unwrap().to_owned(), v))
        .collect();
    let published = rotated.public_keys().await.unwrap();
    assert_eq!(published.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), [&new_key, &old_key]);
    assert_eq!(receipt::verify(&bodies[&a], &published), Ok(old_key.clone()), "signed before the rotation");
    assert_eq!(receipt::verify(&bodies[&b], &published), Ok(new_key.clone()));
    let only_new = human_intervention::domain::proof::receipt::Jwks { keys: vec![published.keys[0].clone()] };
    assert_eq!(receipt::verify(&bodies[&a], &only_new), Err(ReceiptError::UnknownKey(old_key.clone())));
    assert_eq!(bodies[&a]["changes"], json!([{"field": "refund.amount", "proposed": 120.5, "submitted": 80.0}]));
    assert_eq!(bodies[&b]["changes"], json!([]), "the amount was left as proposed");

    // What the consumer is handed: each genuine message, A twice, B altered after signing, B under a
    // forger's key with a published key id, a reminder, and C (whose action the consumer knows otherwise).
    let mut altered = bodies[&b].clone();
    altered["context"]["refund.amount"] = json!(1000.0);
    let mut reshown = bodies[&b].clone();
    reshown["shown"]["title"] = json!("Approve a small refund");
    reshown["digest"] =
        json!(human_intervention::domain::proof::decision_digest(Some(&refund("A-2002", "75.00")), &reshown["shown"]));
    let forger = human_intervention::memory::LocalReceipts::new(
        human_intervention::domain::proof::receipt::ReceiptKey::random(&new_key).unwrap(),
        vec![],
    );
    let mut unsigned: Continuation = serde_json::from_value(bodies[&b].clone()).unwrap();
    unsigned.id = format!("{b}:forged");
    let forged =
        serde_json::to_value(human_intervention::service::sign(&forger, unsigned.clone()).await.unwrap()).unwrap();
    unsigned.id = format!("{b}:reminder");
    unsigned.outcome = human_intervention::domain::continuation::Outcome::Reminder;
    let reminder = serde_json::to_value(human_intervention::service::sign(&rotated, unsigned).await.unwrap()).unwrap();
    let handed = [&bodies[&a], &bodies[&a], &bodies[&b], &altered, &reshown, &forged, &reminder, &bodies[&c]];
    for message in handed {
        f.sqs.send_message().queue_url(f.queue.url()).message_body(message.to_string()).send().await.unwrap();
    }
    let dir = std::env::temp_dir().join(format!("hi-consumer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The keys file beside the decision log's exports (what the log-export function writes on S3) is what
    // the consumer reads.
    let s3 = human_intervention::aws::s3::client(&f.config);
    // S3 refuses capitals in a bucket name (moto does not).
    let bucket = format!("{}-log", f.store.table()).to_lowercase();
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    s3.create_bucket().bucket(&bucket).create_bucket_configuration(location).send().await.expect("a bucket on moto");
    let key = human_intervention::aws::s3::publish_receipt_keys(&s3, &bucket, "exports/", &published).await.unwrap();
    assert_eq!(key, "exports/receipt-keys.json");
    let file = human_intervention::aws::s3::read(&s3, &bucket, &key).await.unwrap();
    assert_eq!(serde_json::from_str::<receipt::Jwks>(&file).unwrap(), published);
    std::fs::write(dir.join("keys.json"), file).unwrap();
    let actions = json!({"run-a": refund("A-1001", "120.50"), "run-b": refund("A-2002", "75.00"), "run-c": refund("A-3003", "100.00")});
    std::fs::write(dir.join("actions.json"), actions.to_string()).unwrap();
    let python = std::env::var("VENV_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/examples/consumer.py"))
        .args(["--once", "--keys"])
        .arg(dir.join("keys.json"))
        .arg("--actions")
        .arg(dir.join("actions.json"))
        .env("QUEUE_URL", f.queue.url())
        .output()
        .expect("run infra/examples/consumer.py");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let results: Vec<(String, String)> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap_or_default().to_owned(), l["result"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let id = |i: &str| bodies[i]["id"].as_str().unwrap().to_owned();
    let expected = [
        (id(&a), "resumed"),
        (id(&a), "duplicate"),
        (id(&b), "resumed"),
        (id(&b), "refused"),
        (id(&b), "refused"),
        (format!("{b}:forged"), "refused"),
        (format!("{b}:reminder"), "reminder"),
        (id(&c), "refused"),
    ];
    let mut got = results.clone();
    got.sort();
    let mut want: Vec<(String, String)> = expected.iter().map(|(i, r)| (i.clone(), (*r).to_owned())).collect();
    want.sort();
    assert_eq!(got, want, "{lines:#?}");
    let why = |pattern: &str| lines.iter().filter(|l| l["why"].as_str().is_some_and(|w| w.contains(pattern))).count();
    assert_eq!(why("does not match the message"), 3, "altered, re-shown and forged: {lines:#?}");
    assert_eq!(why("digest does not match"), 1, "C's action differs: {lines:#?}");
    let resumed_a = lines.iter().find(|l| l["result"] == "resumed" && l["id"] == json!(id(&a))).unwrap();
    assert_eq!(resumed_a["keyId"], json!(old_key));
    assert_eq!(resumed_a["changes"][0]["submitted"], json!(80.0));
}

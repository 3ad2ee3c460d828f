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
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts() },
            f.store.as_ref(),
            now
        ),
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts() },
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
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts() },
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
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts() },
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

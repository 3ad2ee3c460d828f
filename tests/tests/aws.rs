//! The AWS adapters against a real local AWS endpoint (moto, started by `make test`): the whole flow,
//! exactly-once acceptance under races, and every fault that could lose or double a continuation.
//! Every scenario ends with a reconciliation: uses = recorded submissions = distinct continuation ids.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use human_intervention::aws::stream::publish_records;
use human_intervention::aws::DynamoStore;
use human_intervention::local::{Backend, LocalConfig};
use human_intervention::queue::ContinuationQueue;
use human_intervention::store::InterventionStore;
use human_intervention::time::{ManualClock, SystemClock, Timestamp};
use human_intervention::token::InterventionId;
use intervention_tests::aws::{AwsFixture, FaultyStore, FlakyQueue, StoreFault};
use intervention_tests::{example, submission_id_in, TestServer};
use serde_json::{json, Value};

async fn server(store: Arc<dyn InterventionStore>, queue: Arc<dyn ContinuationQueue>) -> TestServer {
    TestServer::with_config(LocalConfig { backend: Backend::Adapters { store, queue }, ..LocalConfig::default() }).await
}

async fn server_on(f: &AwsFixture) -> TestServer {
    server(f.store.clone(), f.queue.clone()).await
}

/// Drains the queue until `expected` continuations arrived (or 10 s passed); returns them all.
async fn collect(f: &AwsFixture, expected: usize) -> Vec<human_intervention::continuation::Continuation> {
    let mut all = Vec::new();
    for _ in 0..100 {
        all.extend(f.drain().await.into_iter().map(|(c, _)| c));
        if all.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything late (a duplicate) shows up here too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    all.extend(f.drain().await.into_iter().map(|(c, _)| c));
    all
}

/// uses, recorded submissions, distinct continuation ids of `id` among `continuations`.
async fn reconcile(
    f: &AwsFixture,
    id: &str,
    continuations: &[human_intervention::continuation::Continuation],
) -> (u32, usize, usize) {
    let parsed = InterventionId::parse(id).expect("an id");
    let uses = f.store.get(&parsed).await.expect("get").expect("stored").uses;
    let recorded = f.recorded_submissions(id).await;
    let distinct: BTreeSet<&str> =
        continuations.iter().filter(|c| c.intervention_id == id).map(|c| c.id.as_str()).collect();
    (uses, recorded, distinct.len())
}

async fn run_flow(fifo: bool) {
    let f = AwsFixture::new(fifo).await;
    let t = server_on(&f).await;
    let (link, id) = t.create(&example()).await;
    let page = t.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let sid = submission_id_in(&page.text().await.unwrap());
    let body = format!("decision=approve&refund.amount=100&note=ok&status=hacked&_submissionId={sid}");
    let accepted = t.post_form(&link, &body).await;
    assert_eq!(accepted.status(), 200);
    assert!(accepted.text().await.unwrap().contains("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"));
    assert_eq!(t.post_form(&link, &body).await.status(), 200, "a double click is the same submission");
    assert_eq!(t.post_form(&link, "decision=approve&_submissionId=other").await.status(), 410);

    let mut messages = Vec::new();
    for _ in 0..50 {
        messages.extend(f.drain().await);
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(messages.len(), 1, "one continuation");
    let (continuation, attributes) = &messages[0];
    assert_eq!(continuation.id, format!("{id}:{sid}"));
    assert_eq!(attributes["correlationId"], "0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10");
    assert_eq!(attributes["environmentId"], "prod-eu");
    let body = serde_json::to_value(continuation).unwrap();
    assert_eq!(body["outcome"], json!("submitted"));
    assert_eq!(
        body["context"],
        json!({"order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com",
               "decision": "approve", "refund.amount": 100.0, "note": "ok"})
    );
    let (uses, recorded, distinct) = reconcile(&f, &id, std::slice::from_ref(continuation)).await;
    assert_eq!((uses, recorded, distinct), (1, 1, 1));
    assert_eq!(f.store.allowance_used("prod-eu", &SystemClock.now_month()).await.unwrap(), 1);
}

trait Month {
    fn now_month(&self) -> String;
}

impl Month for SystemClock {
    fn now_month(&self) -> String {
        use human_intervention::time::Clock;
        self.now().year_month()
    }
}

#[tokio::test]
async fn the_whole_flow_on_dynamodb_and_a_standard_queue() {
    run_flow(false).await;
}

#[tokio::test]
async fn the_whole_flow_on_dynamodb_and_a_fifo_queue() {
    run_flow(true).await;
}

async fn race(f: &AwsFixture, t: &TestServer, max_uses: u32, posts: usize) -> BTreeMap<u16, usize> {
    let mut input = example();
    input["maxUrlUses"] = json!(max_uses);
    let (link, id) = t.create(&input).await;
    let requests = (0..posts).map(|i| {
        let link = link.clone();
        let client = t.client.clone();
        tokio::spawn(async move {
            client
                .post(&link)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("decision=approve&_submissionId=race-{i}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    });
    let mut counts = BTreeMap::new();
    for status in futures::future::join_all(requests).await {
        *counts.entry(status.unwrap().unwrap()).or_insert(0) += 1;
    }
    let accepted = counts.get(&200).copied().unwrap_or(0);
    let continuations = collect(f, accepted).await;
    let (uses, recorded, distinct) = reconcile(f, &id, &continuations).await;
    assert_eq!((uses as usize, recorded, distinct), (accepted, accepted, accepted), "reconciliation");
    assert_eq!(continuations.len(), accepted, "exactly one continuation per accepted submission");
    counts
}

/// `RACE_REPEATS` (default 20) rounds of 1,000 concurrent posts on a max-uses-1 and a max-uses-5 link.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_submissions_accept_exactly_max_uses() {
    let repeats: usize = std::env::var("RACE_REPEATS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    for round in 0..repeats {
        for (max, expected) in
            [(1, BTreeMap::from([(200, 1), (410, 999)])), (5, BTreeMap::from([(200, 5), (410, 995)]))]
        {
            let started = std::time::Instant::now();
            let counts = race(&f, &t, max, 1_000).await;
            eprintln!("round {round} max-uses {max}: {counts:?} in {:.1} s", started.elapsed().as_secs_f64());
            assert_eq!(counts, expected, "round {round}, max uses {max}: no server errors, exactly {max} accepted");
        }
    }
}

#[tokio::test]
async fn an_expired_item_that_ttl_has_not_deleted_is_refused_as_expired() {
    let f = AwsFixture::new(false).await;
    let start = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let backend = Backend::Adapters { store: f.store.clone(), queue: f.queue.clone() };
    let t = TestServer::with_config(LocalConfig { backend, clock: clock.clone(), ..LocalConfig::default() }).await;
    let mut input = intervention_tests::design_example("2026-12-25T10:00:00Z");
    input["maxUrlUses"] = json!(3);
    let (link, id) = t.create(&input).await;
    clock.set(start.plus_millis(3 * 24 * 3_600_000));
    let view = t.client.get(&link).send().await.unwrap();
    assert_eq!(view.status(), 410);
    assert!(view.text().await.unwrap().contains("Link has expired"));
    let post = t.post_form(&link, "decision=approve&_submissionId=late").await;
    assert_eq!(post.status(), 410, "decided from the stored expiry, not from the item's absence");
    let item = f.store.get(&InterventionId::parse(&id).unwrap()).await.unwrap().expect("the item is still there");
    assert_eq!(item.uses, 0);
    let raw = f
        .dynamodb
        .get_item()
        .table_name(f.store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("I#{id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("I".into()))
        .send()
        .await
        .unwrap();
    let ttl: i64 = raw.item().unwrap()["ttl"].as_n().unwrap().parse().unwrap();
    assert!(ttl > start.millis() / 1000 && ttl < 100_000_000_000, "ttl is in epoch seconds: {ttl}");
    let description = f.dynamodb.describe_time_to_live().table_name(f.store.table()).send().await.unwrap();
    let ttl_spec = description.time_to_live_description().unwrap();
    assert_eq!(ttl_spec.attribute_name(), Some("ttl"));
}

#[tokio::test]
async fn throttled_before_commit_is_a_clear_retryable_error_and_consumes_nothing() {
    let f = AwsFixture::new(false).await;
    let faulty = Arc::new(FaultyStore::new(f.store.clone()));
    let t = server(faulty.clone(), f.queue.clone()).await;
    let (link, id) = t.create(&example()).await;
    faulty.set(StoreFault::BeforeCommit);
    let response = t.post_form(&link, "decision=approve&_submissionId=s1").await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let text = response.text().await.unwrap();
    assert!(text.contains("Nothing was recorded") && !text.contains("injected"), "generic, no internals: {text}");
    assert_eq!(reconcile(&f, &id, &[]).await, (0, 0, 0), "nothing consumed");
    faulty.set(StoreFault::None);
    assert_eq!(t.post_form(&link, "decision=approve&_submissionId=s1").await.status(), 200, "the retry works");
    let continuations = collect(&f, 1).await;
    assert_eq!(reconcile(&f, &id, &continuations).await, (1, 1, 1));
    assert_eq!(continuations.len(), 1);
}

#[tokio::test]
async fn a_commit_whose_response_was_lost_is_the_same_submission_on_retry() {
    for max_uses in [1, 3] {
        let f = AwsFixture::new(false).await;
        let faulty = Arc::new(FaultyStore::new(f.store.clone()));
        let t = server(faulty.clone(), f.queue.clone()).await;
        let mut input = example();
        input["maxUrlUses"] = json!(max_uses);
        let (link, id) = t.create(&input).await;
        faulty.set(StoreFault::ResponseLost);
        assert_eq!(t.post_form(&link, "decision=approve&_submissionId=s1").await.status(), 503);
        faulty.set(StoreFault::None);
        let retry = t.post_form(&link, "decision=approve&_submissionId=s1").await;
        assert_eq!(retry.status(), 200, "max uses {max_uses}: the retry is answered as the commit was");
        let continuations = collect(&f, 1).await;
        assert_eq!(continuations.len(), 1);
        assert_eq!(reconcile(&f, &id, &continuations).await, (1, 1, 1), "max uses {max_uses}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_gives_clear_errors() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nowhere"));
    let f = AwsFixture::new(false).await;
    let t = server(store, f.queue.clone()).await;
    let (status, body) = t.create_raw(&example()).await;
    assert_eq!(status, 503, "{body}");
    let forged = format!("{}/i/v1.local.{}", t.url, "A".repeat(75));
    assert_eq!(t.client.get(&forged).send().await.unwrap().status(), 404, "a forged link costs no store call");
}

#[tokio::test]
async fn an_sqs_outage_delays_continuations_and_loses_none() {
    let f = AwsFixture::new(false).await;
    let flaky = Arc::new(FlakyQueue::new(f.queue.clone()));
    let t = server(f.store.clone(), flaky.clone()).await;
    let mut input = example();
    input["maxUrlUses"] = json!(3);
    let (link, id) = t.create(&input).await;
    flaky.set_down(true);
    for i in 0..3 {
        let response = t.post_form(&link, &format!("decision=approve&_submissionId=s{i}")).await;
        assert_eq!(response.status(), 200, "accepted while SQS is down");
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(f.drain().await.is_empty(), "nothing can be sent while SQS is down");
    assert_eq!(f.store.unpublished(10).await.unwrap().len(), 3, "all three wait in the outbox");
    flaky.set_down(false);
    let continuations = collect(&f, 3).await;
    assert_eq!(continuations.len(), 3);
    assert_eq!(reconcile(&f, &id, &continuations).await, (3, 3, 3));
    assert!(f.store.unpublished(10).await.unwrap().is_empty());
}

/// The stream publisher, fed the records DynamoDB would deliver for `id`'s submissions.
async fn accepted_submissions(f: &AwsFixture, count: usize) -> String {
    let t = server(f.store.clone(), Arc::new(FlakyQueue::new(f.queue.clone()))).await;
    let mut input = example();
    input["maxUrlUses"] = json!(count);
    let (link, id) = t.create(&input).await;
    // Stop the server's own in-process publisher so only the stream publisher sends.
    t.server.stop();
    // The server is stopped: record the submissions through the same service directly.
    for i in 0..count {
        let token = link.rsplit('/').next().unwrap();
        let body = format!("decision=approve&_submissionId=p{i}");
        let request = human_intervention::service::SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        let result = t.server.service.submit(token, request).await.unwrap();
        assert!(matches!(result, human_intervention::service::SubmitResult::Accepted { .. }), "{result:?}");
    }
    id
}

#[tokio::test]
async fn a_publisher_crash_between_send_and_acknowledgement_resends_the_same_ids() {
    for fifo in [false, true] {
        let f = AwsFixture::new(fifo).await;
        let id = accepted_submissions(&f, 3).await;
        let records = f.submission_records(&id).await;
        assert_eq!(records.len(), 3);
        assert_eq!(publish_records(&records, f.queue.as_ref(), f.store.as_ref()).await, None);
        // The acknowledgement was lost: the stream delivers the same batch again.
        assert_eq!(publish_records(&records, f.queue.as_ref(), f.store.as_ref()).await, None);
        let continuations = collect(&f, 3).await;
        let expected_messages = if fifo { 3 } else { 6 };
        assert_eq!(continuations.len(), expected_messages, "fifo {fifo}: FIFO de-duplicates, standard delivers twice");
        assert_eq!(reconcile(&f, &id, &continuations).await, (3, 3, 3), "the duplicates carry the same ids");
    }
}

#[tokio::test]
async fn a_poison_stream_record_is_a_batch_item_failure_not_a_crash() {
    let f = AwsFixture::new(false).await;
    let id = accepted_submissions(&f, 2).await;
    let mut records = f.submission_records(&id).await;
    let mut poison = records[0].clone();
    poison.sequence_number = "000000000000000000150".into();
    poison.new_image["continuation"] = json!({"S": "{not json"});
    let mut missing = records[0].clone();
    missing.sequence_number = "000000000000000000151".into();
    missing.new_image.as_object_mut().unwrap().remove("continuation");
    let modify = human_intervention::aws::stream::StreamRecord { event_name: "MODIFY".into(), ..records[1].clone() };
    let after = records.pop().unwrap();
    let batch = vec![records[0].clone(), modify, poison.clone(), after.clone()];
    let failed = publish_records(&batch, f.queue.as_ref(), f.store.as_ref()).await;
    assert_eq!(failed.as_deref(), Some("000000000000000000150"), "the poison record is reported");
    assert_eq!(
        publish_records(&[missing], f.queue.as_ref(), f.store.as_ref()).await.as_deref(),
        Some("000000000000000000151")
    );
    // After the poison record goes to the on-failure destination, the stream moves on.
    assert_eq!(publish_records(&[after], f.queue.as_ref(), f.store.as_ref()).await, None);
    let continuations = collect(&f, 2).await;
    assert_eq!(continuations.len(), 2);
    assert_eq!(reconcile(&f, &id, &continuations).await, (2, 2, 2));
}

#[tokio::test]
async fn a_json_client_reads_the_page_from_dynamodb() {
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let (link, _) = t.create(&example()).await;
    let value: Value =
        t.client.get(&link).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
    assert_eq!(value["state"], json!("pending"));
}

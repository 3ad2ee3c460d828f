//! The AWS adapters against real local AWS endpoints (`make test` starts them: DynamoDB on dynoxide, SQS
//! and the Scheduler on moto; DynamoDB on moto too when only moto runs): the whole flow,
//! exactly-once acceptance under races, and every fault that could lose or double a continuation.
//! Every scenario ends with a reconciliation: uses = recorded submissions = distinct continuation ids.

use intervention_tests::receipts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use human_intervention::aws::stream::publish_records;
use human_intervention::aws::DynamoStore;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::ledger::{verify, verify_after};
use human_intervention::domain::time::{Clock, ManualClock, SystemClock, Timestamp};
use human_intervention::ports::queue::ContinuationQueue;
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::{export_log, ExportError};
use human_intervention::web::local::{Backend, LocalConfig};
use intervention_tests::aws::{AwsFixture, CallCounter, FaultyStore, FlakyQueue, StoreFault};
use intervention_tests::{example, submission_id_in, TestServer};
use serde_json::{json, Value};

async fn server(store: Arc<dyn InterventionStore>, queue: Arc<dyn ContinuationQueue>) -> TestServer {
    TestServer::with_config(LocalConfig { backend: Backend::Adapters { store, queue }, ..LocalConfig::default() }).await
}

async fn server_on(f: &AwsFixture) -> TestServer {
    server(f.store.clone(), f.queue.clone()).await
}

/// Drains the queue until `expected` continuations arrived (or 10 s passed); returns them all.
async fn collect(f: &AwsFixture, expected: usize) -> Vec<human_intervention::domain::continuation::Continuation> {
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
    continuations: &[human_intervention::domain::continuation::Continuation],
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

/// How `posts` concurrent form posts, each with its own submission id (`race-<i>`), were answered: by
/// status (a 410 also by whether it says the link is used up), and the submission ids answered 200.
async fn post_concurrently(t: &TestServer, link: &str, posts: usize) -> (BTreeMap<String, usize>, BTreeSet<String>) {
    post_concurrently_as(t, link, posts, "race").await
}

/// [`post_concurrently`] with the submission ids `<prefix>-<i>`.
async fn post_concurrently_as(
    t: &TestServer,
    link: &str,
    posts: usize,
    prefix: &str,
) -> (BTreeMap<String, usize>, BTreeSet<String>) {
    let requests = (0..posts).map(|i| {
        let (client, link) = (t.client.clone(), link.to_owned());
        let sid = format!("{prefix}-{i}");
        tokio::spawn(async move {
            let response = client
                .post(&link)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("decision=approve&_submissionId={sid}"))
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body = response.text().await.expect("a body");
            let answer = match status {
                410 if body.contains("Already used the maximum number of times") => "410 used up".to_owned(),
                200 | 410 => status.to_string(),
                _ => format!("{status} {}", body.chars().take(80).collect::<String>()),
            };
            (answer, sid)
        })
    });
    let (mut answers, mut accepted) = (BTreeMap::new(), BTreeSet::new());
    for result in futures::future::join_all(requests).await {
        let (answer, sid) = result.expect("a task");
        if answer == "200" {
            accepted.insert(sid);
        }
        *answers.entry(answer).or_insert(0) += 1;
    }
    (answers, accepted)
}

/// One round: `posts` concurrent posts on a fresh link of `max_uses`. Exactly `max_uses` are accepted,
/// every other one is told the link is used up (no server error), and the accepted ones are exactly the
/// recorded submissions, the uses counted and the continuations queued (one each, none twice).
async fn race(f: &AwsFixture, t: &TestServer, round: usize, max_uses: u32, posts: usize) {
    let started = std::time::Instant::now();
    let mut input = example();
    input["maxUrlUses"] = json!(max_uses);
    let (link, id) = t.create(&input).await;
    let (answers, accepted) = post_concurrently(t, &link, posts).await;
    let max = max_uses as usize;
    let continuations = collect(f, max).await;
    eprintln!(
        "round {round} max-uses {max_uses}: {answers:?}, {} continuations, in {:.1} s",
        continuations.len(),
        started.elapsed().as_secs_f64()
    );
    let expected = BTreeMap::from([("200".to_owned(), max), ("410 used up".to_owned(), posts - max)]);
    assert_eq!(answers, expected, "round {round}, max uses {max_uses}: exactly {max} accepted, the rest used up");
    let (uses, recorded, distinct) = reconcile(f, &id, &continuations).await;
    assert_eq!((uses as usize, recorded, distinct), (max, max, max), "round {round}: uses, records, continuations");
    assert_eq!(continuations.len(), max, "round {round}: exactly one continuation per accepted submission");
    let continued: BTreeSet<String> = continuations.iter().filter_map(|c| c.submission_id.clone()).collect();
    assert_eq!(continued, accepted, "round {round}: the continuations are those of the accepted posts");
    let parsed = InterventionId::parse(&id).expect("an id");
    let stored: BTreeSet<String> =
        f.store.submissions(&parsed).await.expect("submissions").iter().map(|s| s.submission_id.to_string()).collect();
    assert_eq!(stored, accepted, "round {round}: the recorded submissions are those of the accepted posts");
    let entries = f.store.log_entries("prod-eu").await.expect("the decision log");
    let logged: BTreeSet<String> =
        entries.iter().filter(|e| e.intervention_id == parsed).filter_map(|e| e.submission_id.clone()).collect();
    assert_eq!(logged, accepted, "round {round}: one decision log entry per accepted post, and no other");
}

/// `RACE_REPEATS` (default 20) rounds of 1,000 concurrent posts on a max-uses-1 and a max-uses-5 link. On
/// dynoxide (`make aws-test`, `make race`) the transactions meet a store that is atomic under concurrency
/// with no lock of ours in front of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_submissions_accept_exactly_max_uses() {
    // Server errors are logged (LOG_LEVEL=error from the Makefile), so a failed round says why.
    human_intervention::telemetry::init();
    let repeats: usize = std::env::var("RACE_REPEATS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    for round in 0..repeats {
        for max_uses in [1, 5] {
            race(&f, &t, round, max_uses, 1_000).await;
        }
    }
    // The environment's log after every round verifies: one entry per accepted post, every chain anchored.
    let export = export_log(f.store.as_ref(), "prod-eu", SystemClock.now()).await.expect("exported");
    let verified = verify(&export.text).expect("the raced log verifies");
    assert_eq!(verified.entries, repeats * 6, "exactly the accepted posts are logged");
}

/// An environment's decision log exported to S3 (moto) after a busy stretch verifies, alone and as the
/// successor of the export before it; each tampering kind on the stored object is reported at its line.
#[tokio::test]
async fn the_decision_log_exported_to_s3_verifies_and_tampering_is_caught_at_its_line() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    use human_intervention::aws::s3;
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let mut input = example();
    input["maxUrlUses"] = json!(3);
    for i in 0..4 {
        let (link, _) = t.create(&input).await;
        for k in 0..i {
            assert_eq!(t.post_form(&link, &format!("decision=approve&_submissionId=s{k}")).await.status(), 200);
        }
    }
    let client = s3::client(&f.config);
    let bucket =
        format!("log-{}", human_intervention::domain::id::random_id(6).unwrap().to_lowercase().replace('_', "-"));
    let location = CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build();
    client.create_bucket().bucket(&bucket).create_bucket_configuration(location).send().await.expect("a bucket");
    let key = s3::export_to_s3(f.store.as_ref(), &client, &bucket, "logs/", "prod-eu", SystemClock.now())
        .await
        .expect("exported");
    assert_eq!(key, "logs/prod-eu/00000000.jsonl");
    let text = s3::read(&client, &bucket, &key).await.expect("read back");
    let first = verify(&text).expect("the export verifies");
    assert_eq!((first.entries, first.chains), (6, 6), "one lane per accepted submission");
    let lines: Vec<&str> = text.lines().collect();
    let rejoin = |lines: Vec<&str>| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let mut edited = lines.clone();
    let changed = lines[2].replacen("\"seq\":0", "\"seq\":1", 1);
    assert_ne!(changed, lines[2]);
    edited[2] = &changed;
    let mut swapped = lines.clone();
    swapped.swap(1, 4);
    let mut dropped = lines.clone();
    dropped.remove(3);
    for (how, tampered, line) in [("edited", edited, 3), ("swapped", swapped, 2), ("dropped", dropped, 4)] {
        let problems = verify(&rejoin(tampered)).expect_err(how);
        assert_eq!(problems[0].line, line, "{how}: {problems:?}");
    }
    let (link, _) = t.create(&input).await;
    assert_eq!(t.post_form(&link, "decision=reject&_submissionId=late").await.status(), 200);
    let next = s3::export_to_s3(f.store.as_ref(), &client, &bucket, "logs/", "prod-eu", SystemClock.now())
        .await
        .expect("exported again");
    assert_eq!(next, "logs/prod-eu/00000001.jsonl");
    let later = s3::read(&client, &bucket, &next).await.expect("read back");
    assert_eq!(verify_after(&later, &first.checkpoint).expect("follows the first").entries, 7);
    // An entry deleted from the table, which its intervention's head still names: nothing is anchored.
    let (_, cancelled) = t.create(&input).await;
    let id = InterventionId::parse(&cancelled).unwrap();
    let service = Service::without_links(f.store.clone(), Arc::new(SystemClock));
    assert_eq!(service.cancel(&id).await.unwrap(), Cancellation::Cancelled);
    let entry_key = |k: &str| aws_sdk_dynamodb::types::AttributeValue::S(k.to_owned());
    let sk = format!("L#{:020}", 0);
    let deleted = f.dynamodb.delete_item().table_name(f.store.table()).key("pk", entry_key(&format!("I#{id}")));
    deleted.key("sk", entry_key(&sk)).send().await.expect("deleted");
    let refused = s3::export_to_s3(f.store.as_ref(), &client, &bucket, "logs/", "prod-eu", SystemClock.now()).await;
    assert!(matches!(refused, Err(s3::S3ExportError::Export(ExportError::Missing(_)))), "{refused:?}");
}

fn quorum_input(reviewers: usize, approvals: usize) -> Value {
    let mut input = example();
    input.as_object_mut().expect("an object").remove("maxUrlUses");
    input["reviewers"] = Value::Array(
        (0..reviewers).map(|i| json!({"id": format!("r{i}@example.com"), "name": format!("Reviewer {i}")})).collect(),
    );
    input["quorum"] = json!({"approvals": approvals, "field": "decision", "approve": "approve", "reject": "reject"});
    input
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
    // A failed retry logs the store's error (LOG_LEVEL=error from the Makefile), so the failure says why.
    human_intervention::telemetry::init();
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

/// A repeated post (a double click, back and resubmit, a client's retry after a timeout) on a link with
/// uses left is the same submission: 200 again, one use, one record, one continuation; the same
/// submission id with another body is a conflict (TEST-PLAN §8.3 #37, #38). The repeat's acceptance
/// sends its ClientRequestToken again, within DynamoDB's 10 minutes, which dynoxide holds it to as
/// DynamoDB does.
#[tokio::test]
async fn a_repeated_post_on_a_link_with_uses_left_is_the_same_submission() {
    // A failed repeat logs the store's error (LOG_LEVEL=error from the Makefile), so the failure says why.
    human_intervention::telemetry::init();
    let f = AwsFixture::new(false).await;
    let t = server_on(&f).await;
    let mut input = example();
    input["maxUrlUses"] = json!(3);
    let (link, id) = t.create(&input).await;
    let body = "decision=approve&_submissionId=twice";
    assert_eq!(t.post_form(&link, body).await.status(), 200);
    let conflicting = t.post_form(&link, "decision=reject&_submissionId=twice").await;
    assert_eq!(conflicting.status(), 409, "the same submission id with another body");
    let repeat = t.post_form(&link, body).await;
    let status = repeat.status();
    let text = repeat.text().await.unwrap();
    assert_eq!(
        status,
        200,
        "the repeat is answered as the first post was: {}",
        text.chars().take(300).collect::<String>()
    );
    let continuations = collect(&f, 1).await;
    assert_eq!(continuations.len(), 1);
    assert_eq!(reconcile(&f, &id, &continuations).await, (1, 1, 1));
}

#[tokio::test]
async fn an_unreachable_endpoint_gives_clear_errors() {
    let config = intervention_tests::aws::loader()
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
    assert_eq!(
        f.store.unpublished(10, Timestamp::from_millis(i64::MAX)).await.unwrap().len(),
        3,
        "all three wait in the outbox"
    );
    flaky.set_down(false);
    let continuations = collect(&f, 3).await;
    assert_eq!(continuations.len(), 3);
    assert_eq!(reconcile(&f, &id, &continuations).await, (3, 3, 3));
    assert!(f.store.unpublished(10, Timestamp::from_millis(i64::MAX)).await.unwrap().is_empty());
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
        assert_eq!(
            publish_records(
                &records,
                Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
                f.store.as_ref(),
                SystemClock.now()
            )
            .await,
            None
        );
        // The acknowledgement was lost: the stream delivers the same batch again.
        assert_eq!(
            publish_records(
                &records,
                Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
                f.store.as_ref(),
                SystemClock.now()
            )
            .await,
            None
        );
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
    let failed = publish_records(
        &batch,
        Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
        f.store.as_ref(),
        SystemClock.now(),
    )
    .await;
    assert_eq!(failed.as_deref(), Some("000000000000000000150"), "the poison record is reported");
    assert_eq!(
        publish_records(
            &[missing],
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            f.store.as_ref(),
            SystemClock.now()
        )
        .await
        .as_deref(),
        Some("000000000000000000151")
    );
    // After the poison record goes to the on-failure destination, the stream moves on.
    assert_eq!(
        publish_records(
            &[after],
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            f.store.as_ref(),
            SystemClock.now()
        )
        .await,
        None
    );
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

// Timeouts and records on DynamoDB.

use human_intervention::domain::model::{InterventionState, TimeoutRefusal};
use human_intervention::ports::store::TimeoutOutcome;
use human_intervention::service::{Cancellation, Outlets, Service, SubmitRequest, SubmitResult};

async fn manual_server(f: &AwsFixture, start: Timestamp) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start));
    let backend = Backend::Adapters { store: f.store.clone(), queue: f.queue.clone() };
    let t = TestServer::with_config(LocalConfig { backend, clock: clock.clone(), ..LocalConfig::default() }).await;
    (t, clock)
}

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap()
}

fn until() -> Value {
    intervention_tests::design_example("2026-11-26T10:00:00Z")
}

#[tokio::test]
async fn the_timeout_function_retried_after_a_failure_queues_one_and_early_or_ghost_timers_do_nothing() {
    let f = AwsFixture::new(false).await;
    let clock = Arc::new(ManualClock::new(start()));
    let keys = human_intervention::domain::token::LinkKeys::parse(&format!("k1:{}", "A".repeat(44))).unwrap();
    let service = Service::new(f.store.clone(), Arc::new(keys), clock.clone(), "http://links.example")
        .with_scheduler(Arc::new(human_intervention::memory::MemoryScheduler::new()));
    let created = service.create(until().to_string().as_bytes()).await.unwrap();
    let id = InterventionId::parse(&created.intervention_id).unwrap();
    let token = created.context["approval.url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    // Early (clock skew): nothing happens and the link keeps working.
    clock.set(start().plus_millis(3_600_000 - 1));
    assert_eq!(service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::NotDue));
    assert!(matches!(service.view(&token).await.unwrap(), human_intervention::service::View::Live(_)));
    // Fails once (the store is unreachable), then the retry queues it.
    clock.set(start().plus_millis(3_600_000));
    let config = intervention_tests::aws::loader()
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "t"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    let down = Service::without_links(
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), f.store.table())),
        clock.clone(),
    );
    assert!(down.fire_timeout(&id).await.is_err(), "the failed invocation reports an error, so it is retried");
    assert_eq!(service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Queued);
    assert_eq!(service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut));
    // A timer whose intervention was never stored.
    let ghost = InterventionId::random().unwrap();
    assert_eq!(service.fire_timeout(&ghost).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
    // The stream publisher moves the timeout record onto the queue once.
    let records = f.records(&created.intervention_id, "T#").await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        publish_records(
            &records,
            Outlets { queue: f.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            f.store.as_ref(),
            SystemClock.now()
        )
        .await,
        None
    );
    let continuations = collect(&f, 1).await;
    assert_eq!(continuations.len(), 1);
    assert_eq!(continuations[0].id, format!("{id}:timeout"));
    assert!(f.store.unpublished(10, Timestamp::from_millis(i64::MAX)).await.unwrap().is_empty(), "marked published");
}

#[tokio::test]
async fn every_state_is_reported_and_the_pending_list_pages_without_secrets() {
    let f = AwsFixture::new(false).await;
    let (t, clock) = manual_server(&f, start()).await;
    let get = |path: String| {
        let client = t.client.clone();
        let url = format!("{}{path}", t.url);
        async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let (_, pending) = t.create(&until()).await;
    clock.advance(1);
    let (completed_link, completed) = t.create(&until()).await;
    assert_eq!(t.post_form(&completed_link, "decision=approve&_submissionId=done").await.status(), 200);
    clock.advance(1);
    let (_, cancelled) = t.create(&until()).await;
    t.client.post(format!("{}/interventions/{cancelled}/cancel", t.url)).send().await.unwrap();
    clock.advance(1);
    let mut short = until();
    short["urlExpirationHours"] = json!(0.5);
    let (_, timed_out) = t.create(&short).await;
    clock.advance(1);
    short.as_object_mut().unwrap().remove("onTimeout");
    let (_, expired) = t.create(&short).await;
    for _ in 0..5 {
        clock.advance(1);
        t.create(&until()).await;
    }
    clock.set(start().plus_millis(1_800_000 + 10));
    assert_eq!(collect(&f, 2).await.len(), 2, "the submission and the timeout");
    for (id, state) in [
        (&pending, "pending"),
        (&completed, "completed"),
        (&cancelled, "cancelled"),
        (&timed_out, "timedOut"),
        (&expired, "expired"),
    ] {
        let record = get(format!("/interventions/{id}")).await;
        assert_eq!(record["state"], json!(state), "{record}");
        assert!(!record.to_string().contains("a@example.com"), "no secret in a record");
    }
    let record = get(format!("/interventions/{completed}")).await;
    assert_eq!(record["submissions"][0]["submissionId"], json!("done"));
    assert_eq!(record["submissions"][0]["input"], json!({"decision": "approve"}));
    assert_eq!(record["continuationIds"], json!([format!("{completed}:done")]));
    assert_eq!(record["uses"], json!(1));
    assert_eq!(record["maxUses"], json!(1));
    // 6 pending interventions, 2 a page: at least 3 pages, newest first, each once.
    let mut seen: Vec<String> = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/interventions?environmentId=prod-eu&state=pending&limit=2".to_owned();
        if let Some(token) = &next {
            path.push_str(&format!("&nextToken={token}"));
        }
        let page = get(path).await;
        pages += 1;
        assert!(!page.to_string().contains("a@example.com"));
        for item in page["interventions"].as_array().unwrap() {
            assert_eq!(item["state"], json!("pending"));
            seen.push(item["interventionId"].as_str().unwrap().to_owned());
        }
        match page["nextToken"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
        assert!(pages < 20);
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen.last(), Some(&pending), "newest first: the first one created comes last");
    assert!(pages >= 3, "{pages} pages");
    let bad = t.client.get(format!("{}/interventions?environmentId=prod-eu&nextToken=eyJ4Ijp7fX0", t.url)).send().await;
    assert_eq!(bad.unwrap().status(), 400);
    let missing = t.client.get(format!("{}/interventions?state=pending", t.url)).send().await.unwrap();
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn eventbridge_schedules_are_made_before_storing_and_removed_on_cancel() {
    let f = AwsFixture::new(false).await;
    let (client, group, scheduler) = f.timeouts(Some("arn:aws:sqs:eu-west-1:123456789012:timeouts-dlq")).await;
    let keys = human_intervention::domain::token::LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).unwrap();
    let service = Service::new(f.store.clone(), Arc::new(keys), Arc::new(SystemClock), "http://l.example")
        .with_scheduler(Arc::new(scheduler));
    let created = service.create(example().to_string().as_bytes()).await.unwrap();
    let schedule = client.get_schedule().name(&created.intervention_id).group_name(&group).send().await.unwrap();
    assert!(schedule.schedule_expression().unwrap().starts_with("at("), "{:?}", schedule.schedule_expression());
    let target = schedule.target().unwrap();
    assert_eq!(
        target.input().map(|i| serde_json::from_str::<Value>(i).unwrap()),
        Some(json!({"interventionId": created.intervention_id}))
    );
    let id = InterventionId::parse(&created.intervention_id).unwrap();
    service.cancel(&id).await.unwrap();
    let gone = client.get_schedule().name(&created.intervention_id).group_name(&group).send().await;
    assert!(gone.is_err(), "the schedule is deleted when the run is cancelled");
    let state = service.record(&id).await.unwrap().unwrap().state;
    assert_eq!(state, InterventionState::Cancelled);
}

/// How many interventions one run holds in the scale test of its cancel.
const RUN_INTERVENTIONS: usize = 500;

/// The schedules left in a group (every page).
async fn schedules_in(client: &aws_sdk_scheduler::Client, group: &str) -> usize {
    let mut count = 0;
    let mut next = None;
    loop {
        let page = client.list_schedules().group_name(group).set_next_token(next).send().await.expect("schedules");
        count += page.schedules().len();
        match page.next_token {
            Some(token) => next = Some(token),
            None => return count,
        }
    }
}

/// An ended run's cancel on DynamoDB and moto's Scheduler: every one of its 500 interventions is
/// cancelled and its timer deleted, a few at a time; a retry (Lambda's, after a timeout) reads each once
/// and writes nothing. The durations and the calls are printed (`-- --nocapture`), never asserted.
#[tokio::test]
async fn an_ended_run_of_500_interventions_is_cancelled_whole_and_a_retry_only_reads() {
    let f = AwsFixture::new(false).await;
    let counter = CallCounter::new();
    let (client, group, scheduler) = f.timeouts_on(counter.scheduler(&f.config), None).await;
    let store = Arc::new(DynamoStore::new(counter.dynamodb(&f.config), f.store.table()));
    let keys = human_intervention::domain::token::LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).unwrap();
    let service = Service::new(store, Arc::new(keys), Arc::new(SystemClock), "http://l.example")
        .with_scheduler(Arc::new(scheduler));
    let run = format!("arn:aws:states:eu-west-1:123456789012:execution:refund:{}", f.store.table());
    let mut input = example();
    input["correlationId"] = json!(run);
    assert!(input.get("onTimeout").is_some(), "each intervention has a timer to delete");
    let input = input.to_string();
    let created: Vec<_> = futures::stream::iter(0..RUN_INTERVENTIONS)
        .map(|_| service.create(input.as_bytes()))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(created.iter().all(Result::is_ok), "all created");
    assert_eq!(schedules_in(&client, &group).await, RUN_INTERVENTIONS);
    counter.take();

    let started = std::time::Instant::now();
    let answers = service.cancel_run(&run).await.expect("the run's cancel");
    let (calls, requests) = counter.take();
    println!(
        "CANCEL_RUN {RUN_INTERVENTIONS} interventions: {:?}; calls {calls:?}, requests {requests}",
        started.elapsed()
    );
    assert_eq!(answers.len(), RUN_INTERVENTIONS);
    assert!(answers.iter().all(|(_, answer)| *answer == Cancellation::Cancelled), "{answers:?}");
    let ids: BTreeSet<InterventionId> = answers.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), RUN_INTERVENTIONS, "each once");
    let mut live = 0;
    for id in &ids {
        live += usize::from(f.store.get(id).await.unwrap().unwrap().cancelled_at.is_none());
    }
    assert_eq!(live, 0, "none left live");
    assert_eq!(schedules_in(&client, &group).await, 0, "every timer deleted");
    // One timer each (no reminder): its deletion only.
    assert_eq!(calls.get("Scheduler.DeleteSchedule"), Some(&RUN_INTERVENTIONS), "{calls:?}");

    counter.take();
    let started = std::time::Instant::now();
    let again = service.cancel_run(&run).await.expect("the retry");
    let (calls, requests) = counter.take();
    println!("CANCEL_RUN retry: {:?}; calls {calls:?}, requests {requests}", started.elapsed());
    assert_eq!(again.len(), RUN_INTERVENTIONS);
    assert!(again.iter().all(|(_, answer)| *answer == Cancellation::Cancelled), "{again:?}");
    let writes: usize =
        calls.iter().filter(|(name, _)| !name.ends_with("GetItem") && !name.ends_with("Query")).map(|(_, n)| n).sum();
    assert_eq!(writes, 0, "a retry writes nothing and deletes no timer: {calls:?}");
    assert_eq!(calls.get("DynamoDB.GetItem"), Some(&RUN_INTERVENTIONS), "one read each: {calls:?}");
}

/// The functions' HTTPS client verifies certificates against its own trust store: an endpoint whose
/// certificate chains to a root outside it is refused during the handshake, and reached once that root is
/// added the way `AWS_CA_BUNDLE` adds one.
#[tokio::test]
async fn the_https_client_trusts_its_roots_and_the_named_bundle_only() {
    use std::io::BufRead;

    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let root = std::env::temp_dir().join(format!("hi-tls-root-{}.pem", std::process::id()));
    let python = std::env::var("VENV_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut server = Stop(
        std::process::Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tls/serve.py"))
            .arg(&root)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start tests/tls/serve.py"),
    );
    let mut port = String::new();
    std::io::BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let endpoint = format!("https://localhost:{}", port.trim());

    let get_item = |http| {
        let endpoint = endpoint.clone();
        async move {
            let config = intervention_tests::aws::loader()
                .http_client(http)
                .endpoint_url(endpoint)
                .region(aws_config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "t"))
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load()
                .await;
            aws_sdk_dynamodb::Client::new(&config)
                .get_item()
                .table_name("t")
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
                .send()
                .await
        }
    };
    let refused = get_item(human_intervention::aws::http_client_trusting(None).unwrap()).await.unwrap_err();
    let refused = aws_sdk_dynamodb::error::DisplayErrorContext(refused).to_string();
    assert!(refused.contains("invalid peer certificate") && refused.contains("UnknownIssuer"), "{refused}");

    let trusted = get_item(human_intervention::aws::http_client_trusting(Some(&root)).unwrap()).await;
    assert!(trusted.expect("the bundle's root is trusted").item.is_none());
    std::fs::remove_file(&root).unwrap();
}

// Reminders.

fn remind_input(reviewers: usize, approvals: usize, to: &[usize]) -> Value {
    let mut input = quorum_input(reviewers, approvals);
    input["runAvailableUntil"] = json!("2026-11-26T10:00:00Z");
    let to: Vec<String> = to.iter().map(|i| format!("r{i}@example.com")).collect();
    input["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
    input
}

/// Posts a form to a link through the service.
async fn post_to(service: &Service, link: &str, body: &str) -> SubmitResult {
    let token = link.rsplit('/').next().expect("a token");
    let request = SubmitRequest {
        content_type: Some("application/x-www-form-urlencoded"),
        idempotency_key: None,
        body: body.as_bytes(),
    };
    service.submit(token, request).await.expect("an answer")
}

async fn create_links(service: &Service, input: &Value) -> (BTreeMap<String, String>, InterventionId) {
    let created = service.create(input.to_string().as_bytes()).await.expect("created");
    let links = created.context[input["generatedUrlContextKey"].as_str().expect("key")]
        .as_object()
        .expect("links")
        .iter()
        .map(|(id, link)| (id.clone(), link.as_str().expect("a link").to_owned()))
        .collect();
    (links, InterventionId::parse(&created.intervention_id).expect("an id"))
}

#[tokio::test]
async fn the_reminder_is_a_second_eventbridge_schedule_removed_by_the_decision() {
    let f = AwsFixture::new(false).await;
    let (client, group, scheduler) = f.timeouts(None).await;
    let keys = human_intervention::domain::token::LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).unwrap();
    let service = Service::new(f.store.clone(), Arc::new(keys), Arc::new(SystemClock), "http://l.example")
        .with_scheduler(Arc::new(scheduler));
    let mut input = remind_input(3, 2, &[0, 1]);
    input["runAvailableUntil"] = example()["runAvailableUntil"].clone();
    let (links, id) = create_links(&service, &input).await;
    let name = format!("{id}-reminder");
    let schedule = client.get_schedule().name(&name).group_name(&group).send().await.expect("the reminder schedule");
    assert!(schedule.schedule_expression().unwrap().starts_with("at("), "{:?}", schedule.schedule_expression());
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), "arn:aws:lambda:eu-west-1:123456789012:function:timeout");
    assert_eq!(
        target.input().map(|i| serde_json::from_str::<Value>(i).unwrap()),
        Some(json!({"interventionId": id.to_string(), "reminder": true}))
    );
    assert!(client.get_schedule().name(id.to_string()).group_name(&group).send().await.is_ok(), "and the timeout's");
    for (who, sid) in [("r0@example.com", "v0"), ("r1@example.com", "v1")] {
        let result = post_to(&service, &links[who], &format!("decision=approve&_submissionId={sid}")).await;
        assert!(matches!(result, SubmitResult::Accepted { .. }), "{result:?}");
    }
    let gone = client.get_schedule().name(&name).group_name(&group).send().await;
    assert!(gone.is_err(), "the decision deletes the reminder schedule");
}

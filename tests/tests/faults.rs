//! The product through a fault proxy (tests/src/faults.rs) on the wire between its SDK clients and the
//! local endpoints: DynamoDB at `AWS_ENDPOINT_URL_DYNAMODB` (dynoxide) or else `AWS_ENDPOINT_URL` (moto),
//! SQS at `AWS_ENDPOINT_URL` (moto). Every fault is AWS's real error response, so what is tested is the
//! SDK's parsing and retrying and the adapters' handling of it. Every scenario ends in the reconciliation:
//! uses = recorded submissions = distinct continuation ids, and the messages on the queue are exactly the
//! entries that reached SQS (counted at the proxy), duplicates only where a lost reply or a failed mark
//! forced a resend, and then under the same id.

use intervention_tests::receipts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use human_intervention::aws::stream::{publish_records, StreamRecord};
use human_intervention::aws::{DynamoStore, SqsQueue};
use human_intervention::domain::continuation::Continuation;
use human_intervention::domain::id::{random_id, InterventionId};
use human_intervention::domain::model::TimeoutRefusal;
use human_intervention::domain::time::{ManualClock, SystemClock, Timestamp};
use human_intervention::domain::token::LinkKeys;
use human_intervention::memory::MemoryScheduler;
use human_intervention::ports::store::{InterventionStore, TimeoutOutcome};
use human_intervention::service::{publish_outbox, Outlets, Service, SubmitRequest, SubmitResult};
use human_intervention::web::local::{Backend, LocalConfig};
use intervention_tests::faults::{Fault, FaultProxy, Operation, Rule, Service as Aws};
use intervention_tests::{example, TestServer};
use serde_json::{json, Value};

/// The SDK's attempt timeout on the clients of the scenarios with latency, and the latency injected.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(700);
const LATENCY: Duration = Duration::from_millis(1_000);

/// The races (hundreds of requests at once) hold this exclusively; the scenarios with an attempt timeout
/// share it: moto answers one request at a time, and a race's burst would time out their healthy attempts.
static BURST: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Every DynamoDB fault of the proxy.
fn dynamodb_faults() -> Vec<Fault> {
    vec![
        Fault::TransactionConflict { item: 0 },
        Fault::Throttling,
        Fault::ProvisionedThroughputExceeded,
        Fault::InternalServerError,
        Fault::ServiceUnavailable,
        Fault::DropResponse,
        Fault::Latency(LATENCY),
    ]
}

/// Every SQS fault of the proxy.
fn sqs_faults() -> Vec<Fault> {
    vec![
        Fault::Throttling,
        Fault::InternalServerError,
        Fault::ServiceUnavailable,
        Fault::DropResponse,
        Fault::Latency(LATENCY),
    ]
}

/// A fresh table and queue, the product's adapters on them through one proxy each, and direct clients
/// (no proxy) to read what really happened.
struct Wire {
    dynamo: FaultProxy,
    sqs_proxy: FaultProxy,
    /// The store through the proxy.
    store: Arc<DynamoStore>,
    /// The queue through the proxy.
    queue: Arc<SqsQueue>,
    /// The store without the proxy.
    direct: Arc<DynamoStore>,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

async fn sdk_config(attempt_timeout: Option<Duration>) -> aws_config::SdkConfig {
    let mut timeouts = aws_config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(30));
    if let Some(timeout) = attempt_timeout {
        timeouts = timeouts.operation_attempt_timeout(timeout);
    }
    intervention_tests::aws::loader()
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        // The functions' 4 attempts; a short first backoff keeps the suite fast (the schedule's shape is the SDK's).
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .timeout_config(timeouts.build())
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled())
        .load()
        .await
}

/// Clients built with the endpoint on the service's own configuration: `AWS_ENDPOINT_URL_DYNAMODB` in the
/// environment would otherwise take precedence over an endpoint on the shared configuration, and bypass
/// the proxy.
fn dynamodb_at(config: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(config).endpoint_url(endpoint).build())
}

fn sqs_at(config: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(config).endpoint_url(endpoint).build())
}

fn endpoints() -> (String, String) {
    let moto = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run under tests/moto/with-moto.sh (make test does)");
    let dynamodb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok().filter(|e| !e.is_empty()).unwrap_or(moto.clone());
    (dynamodb, moto)
}

impl Wire {
    async fn new(attempt_timeout: Option<Duration>) -> Self {
        let (dynamodb_endpoint, sqs_endpoint) = endpoints();
        // The direct clients (setup and reading what happened) never time out an attempt; the product's do.
        let plain = sdk_config(None).await;
        let config = sdk_config(attempt_timeout).await;
        let name = format!("hi-faults-{}", random_id(6).expect("random").replace(['_', '-'], "x"));
        let dynamodb = dynamodb_at(&plain, &dynamodb_endpoint);
        let direct = DynamoStore::new(dynamodb.clone(), &name);
        direct.create_table().await.expect("table created");
        let sqs = sqs_at(&plain, &sqs_endpoint);
        let url = sqs.create_queue().queue_name(&name).send().await.expect("queue").queue_url.expect("a queue URL");
        let dynamo = FaultProxy::start(Aws::DynamoDb, &dynamodb_endpoint).await;
        let sqs_proxy = FaultProxy::start(Aws::Sqs, &sqs_endpoint).await;
        let store = Arc::new(DynamoStore::new(dynamodb_at(&config, &dynamo.url()), &name));
        let queue = Arc::new(SqsQueue::new(sqs_at(&config, &sqs_proxy.url()), url));
        Self { dynamo, sqs_proxy, store, queue, direct: Arc::new(direct), sqs, dynamodb }
    }

    /// The local server on the proxied adapters (its publisher runs in-process, every 250 ms).
    async fn server(&self) -> TestServer {
        let backend = Backend::Adapters { store: self.store.clone(), queue: self.queue.clone() };
        TestServer::with_config(LocalConfig { backend, ..LocalConfig::default() }).await
    }

    /// Every message now on the queue (received and deleted), as continuations.
    async fn drain(&self) -> Vec<Continuation> {
        let mut all = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(self.queue.url())
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for message in messages {
                all.push(serde_json::from_str(message.body().expect("a body")).expect("a continuation"));
                let handle = message.receipt_handle().expect("a receipt handle");
                self.sqs.delete_message().queue_url(self.queue.url()).receipt_handle(handle).send().await.ok();
            }
        }
    }

    /// Drains until at least `expected` messages arrived (or 10 s passed), then once more.
    async fn messages(&self, expected: usize) -> Vec<Continuation> {
        let mut all = Vec::new();
        for _ in 0..100 {
            all.extend(self.drain().await);
            if all.len() >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        all.extend(self.drain().await);
        all
    }

    /// The continuation ids of every entry that reached SQS since the proxy's counts were last reset.
    fn sent_ids(&self) -> Vec<String> {
        let counts = self.sqs_proxy.counts(&Operation::SendMessageBatch);
        assert!(counts.upstream.keys().all(|s| *s == 200), "SQS refused a batch: {counts:?}");
        self.sqs_proxy
            .forwarded_bodies(&Operation::SendMessageBatch)
            .iter()
            .flat_map(|body| body["Entries"].as_array().cloned().unwrap_or_default())
            .map(|entry| {
                let body: Value = serde_json::from_str(entry["MessageBody"].as_str().expect("a body")).expect("JSON");
                body["id"].as_str().expect("an id").to_owned()
            })
            .collect()
    }

    /// The sort keys of the intervention's items that start with `prefix` (`S#`, `T#`), read without the proxy.
    async fn items(&self, id: &str, prefix: &str) -> Vec<human_intervention::aws::dynamo::Item> {
        intervention_tests::aws::items_of(&self.dynamodb, self.direct.table(), id, prefix).await
    }

    /// The submission ids recorded for the intervention.
    async fn recorded(&self, id: &str) -> BTreeSet<String> {
        self.items(id, "S#")
            .await
            .iter()
            .map(|item| item["sk"].as_s().expect("a sort key").trim_start_matches("S#").to_owned())
            .collect()
    }

    async fn uses(&self, id: &str) -> u32 {
        self.direct.get(&InterventionId::parse(id).expect("an id")).await.expect("get").expect("stored").uses
    }

    /// The stream records DynamoDB would deliver for the intervention's items under `prefix`.
    async fn stream_records(&self, id: &str, prefix: &str) -> Vec<StreamRecord> {
        self.items(id, prefix)
            .await
            .iter()
            .enumerate()
            .map(|(i, item)| StreamRecord {
                sequence_number: format!("{:021}", 100 + i),
                event_name: "INSERT".into(),
                new_image: human_intervention::aws::dynamo::item_json(item),
                unreadable: None,
            })
            .collect()
    }

    /// The end of every scenario: what reached SQS is what is on the queue, one distinct id per recorded
    /// submission (and timeout), uses = recorded submissions; returns the messages' ids.
    async fn reconcile(&self, what: &str, id: &str, expected: usize, resend_forced: bool) -> Vec<String> {
        self.dynamo.settled(Duration::from_secs(10)).await;
        self.sqs_proxy.settled(Duration::from_secs(10)).await;
        // Everything that reached SQS is counted at the proxy: wait for as many messages.
        let mut received: Vec<String> = self.messages(expected).await.into_iter().map(|c| c.id).collect();
        let mut sent = self.sent_ids();
        for _ in 0..50 {
            if received.len() >= sent.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            received.extend(self.drain().await.into_iter().map(|c| c.id));
            sent = self.sent_ids();
        }
        let mut on_queue = received.clone();
        sent.sort();
        on_queue.sort();
        assert_eq!(on_queue, sent, "{what}: the messages on the queue are exactly the entries that reached SQS");
        let distinct: BTreeSet<&String> = received.iter().collect();
        assert_eq!(distinct.len(), expected, "{what}: one continuation id per recorded outcome: {received:?}");
        assert!(
            resend_forced || received.len() == expected,
            "{what}: duplicates although nothing forced a resend: {received:?}"
        );
        let uses = self.uses(id).await as usize;
        let recorded = self.recorded(id).await;
        let timeouts = self.items(id, "T#").await.len();
        assert_eq!(uses, recorded.len(), "{what}: uses = recorded submissions");
        assert_eq!(recorded.len() + timeouts, expected, "{what}: recorded outcomes");
        for continuation_id in &distinct {
            let origin = continuation_id.rsplit(':').next().expect("an origin");
            assert!(
                recorded.contains(origin) || (origin == "timeout" && timeouts == 1),
                "{what}: {continuation_id} was sent but is not recorded"
            );
        }
        self.dynamo.reset_counts();
        self.sqs_proxy.reset_counts();
        received
    }
}

/// Prints the test's run time when it ends.
struct Elapsed(std::time::Instant);

impl Drop for Elapsed {
    fn drop(&mut self) {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        eprintln!("{name}: {:.1} s", self.0.elapsed().as_secs_f64());
    }
}

fn form(submission_id: &str) -> String {
    format!("decision=approve&_submissionId={submission_id}")
}

/// Posts `bodies` to `link` all at once; returns each one's (status, body text).
async fn post_all(t: &TestServer, link: &str, bodies: &[String]) -> Vec<(u16, String)> {
    let tasks = bodies.iter().map(|body| {
        let (client, link, body) = (t.client.clone(), link.to_owned(), body.clone());
        tokio::spawn(async move {
            let response = client
                .post(&link)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    });
    futures::future::join_all(tasks).await.into_iter().map(|r| r.expect("a task")).collect()
}

/// `posts` concurrent submissions on a max-uses-`max_uses` link while TransactWriteItems is answered by
/// `rule`; every 503 is checked (it says nothing was recorded, and nothing was) and retried once healthy.
/// Returns (final statuses, 503s seen, TransactWriteItems requests, conflicts injected).
async fn race(w: &Wire, t: &TestServer, label: &str, max_uses: u32, posts: usize, rule: Rule) -> [usize; 4] {
    let mut input = example();
    input["maxUrlUses"] = json!(max_uses);
    let (link, id) = t.create(&input).await;
    let sids: Vec<String> = (0..posts).map(|i| format!("{label}-{i}")).collect();
    let bodies: Vec<String> = sids.iter().map(|s| form(s)).collect();
    w.dynamo.set(Operation::TransactWriteItems, rule);
    let first = post_all(t, &link, &bodies).await;
    w.dynamo.clear(&Operation::TransactWriteItems);
    let transactions = w.dynamo.counts(&Operation::TransactWriteItems);
    let mut finals: BTreeMap<&str, u16> = BTreeMap::new();
    let mut unavailable = 0;
    let recorded_before_retries = w.recorded(&id).await;
    for ((sid, body), (status, text)) in sids.iter().zip(&bodies).zip(&first) {
        let status = if *status == 503 {
            unavailable += 1;
            assert!(
                text.contains("Nothing was recorded"),
                "{label}: a 503 that does not say nothing was recorded: {text}"
            );
            assert!(
                !recorded_before_retries.contains(sid),
                "{label}: {sid} got 503 'Nothing was recorded' but was recorded"
            );
            let retry = post_all(t, &link, std::slice::from_ref(body)).await.remove(0).0;
            assert!(matches!(retry, 200 | 410), "{label}: the retry of a 503 answered {retry}");
            retry
        } else {
            *status
        };
        finals.insert(sid, status);
    }
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    finals.values().for_each(|s| *counts.entry(*s).or_insert(0) += 1);
    let max = max_uses as usize;
    assert_eq!(
        counts,
        [(200, max), (410, posts - max)].into_iter().filter(|(_, n)| *n > 0).collect::<BTreeMap<u16, usize>>(),
        "{label}: exactly {max} accepted, the rest used up, no server error"
    );
    let accepted: BTreeSet<String> = finals.iter().filter(|(_, s)| **s == 200).map(|(k, _)| (*k).to_owned()).collect();
    assert_eq!(w.recorded(&id).await, accepted, "{label}: the recorded submissions are those answered 200");
    w.reconcile(label, &id, max, false).await;
    [
        counts[&200],
        unavailable,
        transactions.received,
        transactions.injected.get("TransactionConflict").copied().unwrap_or(0),
    ]
}

/// With 30 % of the transactions answered TransactionConflict, a race ends as without faults; at 85 % (on
/// a link with a use for every post, so none is settled as used up) some submissions exhaust the product's
/// ten attempts, and each such 503 is true and its retry accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_the_wire_change_no_count() {
    let _exclusive = BURST.write().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(None).await;
    let t = w.server().await;
    let started = std::time::Instant::now();
    let conflict = Fault::TransactionConflict { item: 0 };
    for round in 0..2 {
        for max_uses in [1, 5] {
            let label = format!("r{round}m{max_uses}");
            let [accepted, unavailable, transactions, conflicts] =
                race(&w, &t, &label, max_uses, 40, conflict.at_rate(0.3)).await;
            eprintln!(
                "30 % conflicts, max uses {max_uses}, 40 posts: {accepted} accepted, {unavailable} 503s retried, \
                 {conflicts} conflicts injected in {transactions} TransactWriteItems"
            );
        }
    }
    let [accepted, unavailable, transactions, conflicts] = race(&w, &t, "hot", 20, 20, conflict.at_rate(0.85)).await;
    eprintln!(
        "85 % conflicts, max uses 20, 20 posts: {accepted} accepted, {unavailable} 503s retried, {conflicts} conflicts \
         injected in {transactions} TransactWriteItems; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// 200 links of one Shared environment, one submission each, all at once, with 30 % of the transactions
/// answered TransactionConflict on the allowance counter (the item they all share): all 200 accepted, and
/// the environment's allowance counts exactly 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_links_of_one_shared_environment_count_its_allowance_exactly() {
    let _exclusive = BURST.write().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(None).await;
    let t = w.server().await;
    let environment = format!("shared-{}", random_id(6).unwrap());
    let mut input = example();
    input["environmentId"] = json!(environment);
    assert_eq!(input["tier"], json!("Shared"));
    let creations = (0..200).map(|_| t.create(&input));
    let links = futures::future::join_all(creations).await;
    // The allowance counter is the third action of a Shared acceptance.
    w.dynamo.set(Operation::TransactWriteItems, Fault::TransactionConflict { item: 2 }.at_rate(0.3));
    let posts = links.iter().map(|(link, _)| {
        let (client, link) = (t.client.clone(), link.clone());
        tokio::spawn(async move {
            let response = client
                .post(&link)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form("only"))
                .send()
                .await
                .expect("an answer");
            response.status().as_u16()
        })
    });
    let statuses = futures::future::join_all(posts).await;
    let transactions = w.dynamo.counts(&Operation::TransactWriteItems);
    w.dynamo.clear_all();
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    statuses.into_iter().for_each(|s| *counts.entry(s.expect("a task")).or_insert(0) += 1);
    assert_eq!(counts, BTreeMap::from([(200, 200)]), "all 200 accepted");
    let month = {
        use human_intervention::domain::time::Clock;
        SystemClock.now().year_month()
    };
    assert_eq!(w.direct.allowance_used(&environment, &month).await.unwrap(), 200, "the allowance counts 200");
    for (_, id) in &links {
        assert_eq!((w.uses(id).await, w.recorded(id).await.len()), (1, 1), "{id}");
    }
    let received = w.messages(200).await;
    let distinct: BTreeSet<&str> = received.iter().map(|c| c.id.as_str()).collect();
    assert_eq!((received.len(), distinct.len()), (200, 200), "one continuation per link");
    assert!(received.iter().all(|c| c.counts_against_allowance && c.environment_id == environment));
    assert_eq!(w.sent_ids().len(), 200, "200 entries reached SQS");
    eprintln!(
        "200 links, one Shared environment: {} conflicts injected on the allowance item in {} TransactWriteItems",
        transactions.injected.get("TransactionConflict").copied().unwrap_or(0),
        transactions.received
    );
}

/// What the proxy injected into `operation` (by kind), for the report.
fn injected(proxy: &FaultProxy, operation: &Operation) -> String {
    let counts = proxy.counts(operation);
    format!("{:?} in {} received, {} forwarded", counts.injected, counts.received, counts.forwarded)
}

/// Each DynamoDB fault on the acceptance's transaction: once (the SDK or the product retries; the reviewer
/// sees 200), and on every attempt for the faults that never reach DynamoDB (503 "Nothing was recorded",
/// true, then the retry is accepted).
#[tokio::test]
async fn every_wire_fault_on_acceptance_reconciles() {
    let _shared = BURST.read().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(Some(ATTEMPT_TIMEOUT)).await;
    let t = w.server().await;
    for fault in dynamodb_faults() {
        let label = format!("acceptance, {fault:?}");
        let mut input = example();
        input["maxUrlUses"] = json!(2);
        let (link, id) = t.create(&input).await;
        // Once: a conflict three times (the product's own loop), every other fault once (the SDK's retry).
        let times = if matches!(fault, Fault::TransactionConflict { .. }) { 3 } else { 1 };
        w.dynamo.set(Operation::TransactWriteItems, fault.times(times));
        let once = t.post_form(&link, &form("once")).await;
        assert_eq!(once.status(), 200, "{label} ×{times}: accepted");
        let mut report = format!("×{times}: {}", injected(&w.dynamo, &Operation::TransactWriteItems));
        if !fault.forwards() {
            w.dynamo.reset_counts();
            w.dynamo.set(Operation::TransactWriteItems, fault.always());
            let refused = t.post_form(&link, &form("always")).await;
            assert_eq!(refused.status(), 503, "{label} on every attempt");
            assert!(refused.headers().contains_key("retry-after"), "{label}");
            let text = refused.text().await.unwrap();
            // A refusal DynamoDB answered (throttling) applied nothing, and the page says so; after a 5xx the
            // write may have been applied, so the product reads back and, finding nothing, says it is not
            // confirmed rather than claim what it cannot know.
            let nothing = text.contains("Nothing was recorded");
            let unconfirmed = text.contains("may or may not have been recorded");
            assert!(nothing || unconfirmed, "{label}: a 503 that says neither");
            assert!(!(fault.server_error() && nothing), "{label}: after a 5xx nothing is known");
            assert_eq!(w.recorded(&id).await.len(), 1, "{label}: nothing was recorded indeed");
            assert_eq!(w.uses(&id).await, 1, "{label}: no use consumed");
            report.push_str(&format!("; always: {}", injected(&w.dynamo, &Operation::TransactWriteItems)));
            w.dynamo.clear_all();
            assert_eq!(t.post_form(&link, &form("always")).await.status(), 200, "{label}: the retry is accepted");
        } else {
            w.dynamo.clear_all();
            assert_eq!(t.post_form(&link, &form("second")).await.status(), 200, "{label}");
        }
        w.reconcile(&label, &id, 2, false).await;
        eprintln!("{label}: {report}");
    }
}

/// When every attempt's reply is lost (or arrives after the attempt timed out), the transaction committed:
/// the reviewer's 503 says "Nothing was recorded". It must be true, or not be said. The retry is the same
/// submission either way.
#[tokio::test]
async fn a_503_says_nothing_was_recorded_only_when_nothing_was() {
    let _shared = BURST.read().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(Some(ATTEMPT_TIMEOUT)).await;
    let t = w.server().await;
    let mut untrue = Vec::new();
    for fault in [Fault::DropResponse, Fault::Latency(LATENCY)] {
        let label = format!("acceptance, {fault:?} on every attempt");
        let (link, id) = t.create(&example()).await;
        w.dynamo.set(Operation::TransactWriteItems, fault.always());
        let response = t.post_form(&link, &form("lost")).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        w.dynamo.settled(Duration::from_secs(15)).await;
        let report = injected(&w.dynamo, &Operation::TransactWriteItems);
        w.dynamo.clear_all();
        let recorded = w.recorded(&id).await;
        if status == 503 && text.contains("Nothing was recorded") && !recorded.is_empty() {
            untrue.push(format!(
                "{label}: answered 503 \"Nothing was recorded\" while the store holds {recorded:?} (uses {}); {report}",
                w.uses(&id).await
            ));
        }
        let retry = t.post_form(&link, &form("lost")).await;
        assert_eq!(retry.status(), 200, "{label}: the retry is the same submission");
        w.reconcile(&label, &id, 1, false).await;
        eprintln!("{label}: first answer {status}; {report}");
    }
    assert!(untrue.is_empty(), "the reviewer was told nothing was recorded, untruly:\n{}", untrue.join("\n"));
}

/// A publisher's `recorded_by` that takes everything recorded (the sweep's cut-off is not under test here).
fn everything() -> Timestamp {
    Timestamp::parse_rfc3339("2100-01-01T00:00:00Z").unwrap()
}

fn now() -> Timestamp {
    use human_intervention::domain::time::Clock;
    SystemClock.now()
}

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap()
}

/// Each DynamoDB fault on the timeout's transaction, once and then on every attempt (the timer's invocation
/// fails and is retried): one `timedOut` continuation, recorded once, sent once.
#[tokio::test]
async fn every_wire_fault_on_the_timeout_reconciles() {
    let _shared = BURST.read().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(Some(ATTEMPT_TIMEOUT)).await;
    let clock = Arc::new(ManualClock::new(start()));
    let keys = LinkKeys::parse(&format!("k1:{}", "D".repeat(44))).unwrap();
    let service = Service::new(w.store.clone(), Arc::new(keys), clock.clone(), "http://l.example")
        .with_scheduler(Arc::new(MemoryScheduler::new()));
    let input = intervention_tests::design_example("2026-11-26T10:00:00Z").to_string();
    let mut scenarios = Vec::new();
    for fault in dynamodb_faults() {
        for always in [false, true] {
            let created = service.create(input.as_bytes()).await.unwrap();
            scenarios.push((fault, always, InterventionId::parse(&created.intervention_id).unwrap()));
        }
    }
    clock.set(start().plus_millis(3_600_000));
    let (mut outcomes, mut mislabelled) = (Vec::new(), Vec::new());
    for (fault, always, id) in scenarios {
        let label = format!("timeout, {fault:?} {}", if always { "on every attempt" } else { "once" });
        let times = if matches!(fault, Fault::TransactionConflict { .. }) { 3 } else { 1 };
        w.dynamo.set(Operation::TransactWriteItems, if always { fault.always() } else { fault.times(times) });
        let first = service.fire_timeout(&id).await;
        w.dynamo.settled(Duration::from_secs(15)).await;
        let report = injected(&w.dynamo, &Operation::TransactWriteItems);
        w.dynamo.clear_all();
        let recorded_first = w.items(&id.to_string(), "T#").await.len();
        match (&first, always) {
            (Ok(_), false) => {}
            (Err(_), true) => {
                if !fault.forwards() {
                    assert_eq!(recorded_first, 0, "{label}: a failed invocation recorded nothing");
                }
            }
            // The commit went through and only its answer was lost: the product reads the intervention back.
            (Ok(TimeoutOutcome::Queued), true) if fault.forwards() => {
                assert_eq!(recorded_first, 1, "{label}: the read-back saw the recorded timeout");
            }
            (Ok(outcome), true) if matches!(fault, Fault::TransactionConflict { .. }) => {
                panic!("{label}: {outcome:?} after endless conflicts")
            }
            (outcome, _) => panic!("{label}: {outcome:?}"),
        }
        // The scheduler retries a failed invocation; a second firing is what a duplicate timer does.
        let second = service.fire_timeout(&id).await.expect("the retried invocation");
        assert_eq!(w.items(&id.to_string(), "T#").await.len(), 1, "{label}: one timeout recorded");
        while publish_outbox(
            w.store.as_ref(),
            Outlets { queue: w.queue.as_ref(), tasks: None, receipts: receipts(), messengers: Default::default() },
            everything(),
            now(),
        )
        .await
        .expect("publishing")
            > 0
        {}
        let ids = w.reconcile(&label, &id.to_string(), 1, false).await;
        assert_eq!(ids, vec![format!("{id}:timeout")], "{label}");
        // The invocation whose transaction committed, told by the SDK's retry that it had already timed out.
        if !always && matches!(first, Ok(TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut))) {
            mislabelled.push(label.clone());
        }
        outcomes.push(format!("{label}: {:?} then {second:?}; {report}", first.as_ref().map_err(|_| "error")));
    }
    eprintln!("{}", outcomes.join("\n"));
    if !mislabelled.is_empty() {
        eprintln!("the invocation that recorded the timeout was answered AlreadyTimedOut: {mislabelled:?}");
    }
}

/// Three accepted submissions of a Shared link (recorded without faults) and the service that records them.
async fn three_accepted(w: &Wire, service: &Service) -> String {
    let mut input = example();
    input["maxUrlUses"] = json!(3);
    let created = service.create(input.to_string().as_bytes()).await.unwrap();
    let link = serde_json::to_value(&created.context).unwrap()["approval.url"].as_str().unwrap().to_owned();
    let token = link.rsplit('/').next().unwrap();
    for i in 0..3 {
        let body = form(&format!("p{i}"));
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        let result = service.submit(token, request).await.unwrap();
        assert!(matches!(result, SubmitResult::Accepted { .. }), "{result:?}");
    }
    w.dynamo.reset_counts();
    created.intervention_id
}

/// Each fault on publishing: SendMessageBatch (SQS), the publisher's outbox read (Query) and its mark
/// (UpdateItem) on DynamoDB; for the outbox sweep and for the stream publisher. Duplicates only where the
/// batch reached SQS and its reply was lost, or the mark failed after the send; always under the same ids.
#[tokio::test]
async fn every_wire_fault_on_publishing_reconciles() {
    let _shared = BURST.read().await;
    let _timer = Elapsed(std::time::Instant::now());
    let w = Wire::new(Some(ATTEMPT_TIMEOUT)).await;
    let keys = LinkKeys::parse(&format!("k1:{}", "E".repeat(44))).unwrap();
    let service = Service::new(w.store.clone(), Arc::new(keys), Arc::new(SystemClock), "http://l.example")
        .with_scheduler(Arc::new(MemoryScheduler::new()));
    let mut scenarios: Vec<(Operation, Fault)> = Vec::new();
    scenarios.extend(sqs_faults().into_iter().map(|f| (Operation::SendMessageBatch, f)));
    let dynamodb_only = dynamodb_faults().into_iter().filter(|f| !matches!(f, Fault::TransactionConflict { .. }));
    for fault in dynamodb_only {
        scenarios.push((Operation::UpdateItem, fault));
        // The outbox read is a plain read: one fault that never reaches DynamoDB and one that does.
        if matches!(fault, Fault::Throttling | Fault::DropResponse) {
            scenarios.push((Operation::Query, fault));
        }
    }
    let mut report = Vec::new();
    for (operation, fault) in scenarios {
        for always in [false, true] {
            let proxy = if operation == Operation::SendMessageBatch { &w.sqs_proxy } else { &w.dynamo };
            let mode = if always { "on every attempt of one pass" } else { "once" };
            // The outbox sweep: a pass that fails leaves the outbox as it is, and the next pass sends it.
            let label = format!("outbox sweep, {fault:?} on {operation:?} {mode}");
            let id = three_accepted(&w, &service).await;
            proxy.set(operation.clone(), if always { fault.always() } else { fault.times(1) });
            let mut failures = 0;
            for pass in 0..10 {
                if pass == 1 {
                    proxy.clear_all();
                }
                match publish_outbox(
                    w.store.as_ref(),
                    Outlets {
                        queue: w.queue.as_ref(),
                        tasks: None,
                        receipts: receipts(),
                        messengers: Default::default(),
                    },
                    everything(),
                    now(),
                )
                .await
                {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => failures += 1,
                }
            }
            proxy.clear_all();
            let line = format!("{label}: {failures} failed passes; {}", injected(proxy, &operation));
            let resend =
                fault.forwards() && operation == Operation::SendMessageBatch || operation == Operation::UpdateItem;
            let ids = w.reconcile(&label, &id, 3, resend).await;
            report.push(format!("{line}; {} messages", ids.len()));
            assert!(w.direct.unpublished(10, everything()).await.unwrap().is_empty(), "{label}: the outbox is empty");

            if operation != Operation::SendMessageBatch {
                continue;
            }
            // The stream publisher: a failed batch is reported, and the stream delivers it again.
            let label = format!("stream publisher, {fault:?} on SendMessageBatch {mode}");
            let id = three_accepted(&w, &service).await;
            let records = w.stream_records(&id, "S#").await;
            proxy.set(operation.clone(), if always { fault.always() } else { fault.times(1) });
            let (mut from, mut failures) = (0, 0);
            for pass in 0..10 {
                if pass == 1 {
                    proxy.clear_all();
                }
                match publish_records(
                    &records[from..],
                    Outlets {
                        queue: w.queue.as_ref(),
                        tasks: None,
                        receipts: receipts(),
                        messengers: Default::default(),
                    },
                    w.store.as_ref(),
                    now(),
                )
                .await
                {
                    None => break,
                    Some(failed) => {
                        failures += 1;
                        from = records.iter().position(|r| r.sequence_number == failed).expect("a record of the batch");
                    }
                }
            }
            proxy.clear_all();
            let line = format!("{label}: {failures} failed invocations; {}", injected(proxy, &operation));
            let ids = w.reconcile(&label, &id, 3, fault.forwards()).await;
            report.push(format!("{line}; {} messages", ids.len()));
        }
    }
    eprintln!("{}", report.join("\n"));
}

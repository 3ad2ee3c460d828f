use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::domain::continuation::{Continuation, Outcome};
use crate::domain::creation::NewIntervention;
use crate::domain::id::InterventionId;
use crate::domain::input::BodyError;
use crate::domain::model::Submission;
use crate::domain::rejection::Rejection;
use crate::domain::task::TaskAttachment;
use crate::domain::task::TaskStatus;
use crate::domain::time::ManualClock;
use crate::domain::time::Timestamp;
use crate::domain::token::LinkKey;
use crate::domain::token::LinkKeys;
use crate::memory::{MemoryQueue, MemoryStore};
use crate::service::publish_outbox;

const START: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z

struct Fixture {
    service: Service,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    scheduler: Arc<crate::memory::MemoryScheduler>,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap());
    let scheduler = Arc::new(crate::memory::MemoryScheduler::new());
    let service = Service::new(store.clone(), keys, clock.clone(), "https://links.example.com/")
        .with_scheduler(scheduler.clone());
    Fixture { service, store, clock, scheduler }
}

fn input(max_uses: u32) -> Value {
    let mut value = crate::domain::creation::tests::example();
    value["maxUrlUses"] = json!(max_uses);
    value
}

impl Fixture {
    async fn link(&self, input: Value) -> (CreatedLink, String) {
        let created = self.service.create(input.to_string().as_bytes()).await.unwrap();
        let link = serde_json::to_value(&created.context).unwrap()["approval.url"].as_str().unwrap().to_owned();
        let token = link.rsplit('/').next().unwrap().to_owned();
        (created, token)
    }

    async fn post(&self, token: &str, body: &str) -> SubmitResult {
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        self.service.submit(token, request).await.unwrap()
    }
}

fn accepted(result: &SubmitResult) -> bool {
    matches!(result, SubmitResult::Accepted { .. })
}

#[tokio::test]
async fn create_returns_the_context_with_the_link_at_the_generated_key() {
    let f = fixture();
    let (created, token) = f.link(input(1)).await;
    let context = serde_json::to_value(&created.context).unwrap();
    assert!(context["approval.url"].as_str().unwrap().starts_with("https://links.example.com/i/v1.k1."));
    assert_eq!(context["order.id"], json!("A-1001"));
    assert_eq!(created.expires_at, "2026-11-25T11:00:00.000Z");
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Live(_)));
}

#[tokio::test]
async fn a_bad_input_stores_nothing() {
    let f = fixture();
    let mut bad = input(1);
    bad["formDocument"]["fields"][0]["type"] = json!("slider");
    let error = f.service.create(bad.to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(error, CreateError::Invalid(ref e) if e.field == "formDocument.fields[0].type"), "{error}");
    assert!(f.store.unpublished(10, f.clock.now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn accepted_submission_is_published_once_with_the_merged_context() {
    let f = fixture();
    let (created, token) = f.link(input(1)).await;
    let result = f
        .post(&token, "decision=approve&refund.amount=99.5&note=ok&status=hacked&order.id=evil&_submissionId=s1")
        .await;
    assert!(accepted(&result), "{result:?}");
    let queue = MemoryQueue::new();
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            f.clock.now(),
            f.clock.now()
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            f.clock.now(),
            f.clock.now()
        )
        .await
        .unwrap(),
        0
    );
    let messages = queue.messages();
    assert_eq!(messages.len(), 1);
    let message = serde_json::to_value(&messages[0]).unwrap();
    assert_eq!(message["id"], json!(format!("{}:s1", created.intervention_id)));
    assert_eq!(messages[0].outcome, Outcome::Submitted);
    assert_eq!(message["countsAgainstAllowance"], json!(true));
    assert_eq!(
        message["context"],
        json!({"order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com",
               "decision": "approve", "refund.amount": 99.5, "note": "ok"})
    );
    assert_eq!(f.store.allowance_used("prod-eu", "2026-11").await.unwrap(), 1);
}

#[tokio::test]
async fn a_repeat_with_the_same_id_is_one_submission_and_answered_alike() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let body = "decision=approve&_submissionId=dbl";
    assert!(accepted(&f.post(&token, body).await));
    assert!(accepted(&f.post(&token, body).await), "the double click sees success again");
    // The link is used up: the same id with other values gets the link's outcome, not a 409.
    assert!(matches!(
        f.post(&token, "decision=reject&_submissionId=dbl").await,
        SubmitResult::Rejected(Rejection::UsedUp)
    ));
    assert!(matches!(
        f.post(&token, "decision=approve&_submissionId=other").await,
        SubmitResult::Rejected(Rejection::UsedUp)
    ));
    assert_eq!(f.store.unpublished(10, f.clock.now()).await.unwrap().len(), 1);
    assert_eq!(f.store.allowance_used("prod-eu", "2026-11").await.unwrap(), 1);
}

#[tokio::test]
async fn invalid_input_counts_no_use() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let result = f.post(&token, "decision=maybe&_submissionId=s1").await;
    let SubmitResult::Invalid { errors, submission_id, .. } = result else { panic!("{result:?}") };
    assert_eq!(submission_id.as_str(), "s1");
    assert!(errors.get("decision").is_some());
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s1").await));
}

#[tokio::test]
async fn expiry_is_decided_at_the_exact_millisecond() {
    let f = fixture();
    let (_, token) = f.link(input(5)).await;
    let expiry = START + 3_600_000;
    f.clock.set(Timestamp::from_millis(expiry - 1));
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Live(_)));
    assert!(accepted(&f.post(&token, "decision=approve").await));
    f.clock.set(Timestamp::from_millis(expiry));
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Rejected(Rejection::Expired)));
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
}

#[tokio::test]
async fn the_links_state_comes_before_the_input() {
    let f = fixture();
    let (created, token) = f.link(input(1)).await;
    let id = InterventionId::parse(&created.intervention_id).unwrap();
    assert_eq!(f.service.cancel(&id).await.unwrap(), Cancellation::Cancelled);
    assert!(matches!(f.post(&token, "decision=maybe").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(matches!(f.post(&token, "note=%FF").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Rejected(Rejection::Expired)));
}

#[tokio::test]
async fn a_run_past_its_availability_expires_the_link() {
    let f = fixture();
    let mut value = input(1);
    value["runAvailableUntil"] = json!("2026-11-25T10:30:00Z");
    value["urlExpirationHours"] = json!(0.5);
    // A link that expires with its run has no time left for a timeout: only without onTimeout.
    value.as_object_mut().unwrap().remove("onTimeout");
    let (_, token) = f.link(value).await;
    f.clock.set(Timestamp::parse_rfc3339("2026-11-25T10:30:00Z").unwrap());
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
}

#[tokio::test]
async fn dedicated_tiers_count_no_allowance() {
    let f = fixture();
    let mut value = input(1);
    value["tier"] = json!("Dedicated");
    let (_, token) = f.link(value).await;
    assert!(accepted(&f.post(&token, "decision=approve").await));
    assert_eq!(f.store.allowance_used("prod-eu", "2026-11").await.unwrap(), 0);
    let entries = f.store.unpublished(10, f.clock.now()).await.unwrap();
    assert!(!entries[0].counts_against_allowance);
}

#[tokio::test]
async fn forged_and_unknown_links_are_not_found() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(matches!(f.service.view(&forged).await.unwrap(), View::Rejected(Rejection::NotFound)));
    assert!(matches!(f.post(&forged, "decision=approve").await, SubmitResult::Rejected(Rejection::NotFound)));
    // A correctly signed link whose intervention was never stored.
    let other = LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap();
    let ghost = other.sign(&InterventionId::random().unwrap(), Timestamp::from_millis(START + 1000));
    assert!(matches!(f.service.view(&ghost).await.unwrap(), View::Rejected(Rejection::NotFound)));
}

#[tokio::test]
async fn a_form_without_fields_is_a_bare_approval() {
    let f = fixture();
    let mut value = input(1);
    value.as_object_mut().unwrap().remove("formDocument");
    let (_, token) = f.link(value).await;
    assert!(accepted(&f.post(&token, "_submissionId=go").await));
}

async fn race(max_uses: u32, posts: usize) -> (usize, usize) {
    let f = Arc::new(fixture());
    let (_, token) = f.link(input(max_uses)).await;
    let mut tasks = Vec::new();
    for i in 0..posts {
        let f = f.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move { f.post(&token, &format!("decision=approve&_submissionId=r{i}")).await }));
    }
    let (mut won, mut used_up) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            SubmitResult::Accepted { .. } => won += 1,
            SubmitResult::Rejected(Rejection::UsedUp) => used_up += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(f.store.unpublished(1000, f.clock.now()).await.unwrap().len(), won);
    (won, used_up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_accept_exactly_min_n_max() {
    assert_eq!(race(1, 200).await, (1, 199));
    assert_eq!(race(5, 200).await, (5, 195));
    assert_eq!(race(20, 7).await, (7, 0));
}

// Timeouts.

use crate::domain::model::{InterventionState, TimeoutRefusal};
use crate::ports::store::TimeoutOutcome;

fn id_of(created: &CreatedLink) -> InterventionId {
    InterventionId::parse(&created.intervention_id).unwrap()
}

const EXPIRY: i64 = START + 3_600_000;

#[tokio::test]
async fn a_timeout_does_nothing_when_answered_cancelled_unset_or_never_stored() {
    let f = fixture();
    let (answered, token) = f.link(input(1)).await;
    assert!(accepted(&f.post(&token, "decision=approve").await));
    let (cancelled, _) = f.link(input(1)).await;
    f.service.cancel(&id_of(&cancelled)).await.unwrap();
    let mut without = input(1);
    without.as_object_mut().unwrap().remove("onTimeout");
    let (unset, _) = f.link(without).await;
    f.clock.set(Timestamp::from_millis(EXPIRY + 5));
    let fire = |id: InterventionId| {
        let service = f.service.clone();
        async move { service.fire_timeout(&id).await.unwrap() }
    };
    assert_eq!(fire(id_of(&answered)).await, TimeoutOutcome::Refused(TimeoutRefusal::Answered));
    assert_eq!(fire(id_of(&cancelled)).await, TimeoutOutcome::Refused(TimeoutRefusal::Cancelled));
    assert_eq!(fire(id_of(&unset)).await, TimeoutOutcome::Refused(TimeoutRefusal::NoTimeoutContinuation));
    assert_eq!(fire(InterventionId::random().unwrap()).await, TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
    let outcomes: Vec<_> =
        f.store.unpublished(10, f.clock.now()).await.unwrap().into_iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, vec![crate::domain::continuation::Outcome::Submitted], "only the answered link's submission");
    let unset_record = f.service.record(&id_of(&unset)).await.unwrap().unwrap();
    assert_eq!(unset_record.state, InterventionState::Expired);
    assert_eq!(f.service.record(&id_of(&cancelled)).await.unwrap().unwrap().state, InterventionState::Cancelled);
    assert_eq!(f.service.record(&id_of(&answered)).await.unwrap().unwrap().state, InterventionState::Completed);
}

#[tokio::test]
async fn on_timeout_without_a_scheduler_is_refused_by_name() {
    let store = Arc::new(MemoryStore::new());
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let service = Service::new(store, keys, clock, "https://x.example");
    let error = service.create(input(1).to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(error, CreateError::Invalid(ref e) if e.field == "onTimeout"), "{error}");
}

#[tokio::test]
async fn the_pending_list_pages_newest_first_across_pages() {
    let f = fixture();
    let mut ids = Vec::new();
    for _ in 0..7 {
        let (created, _) = f.link(input(1)).await;
        ids.push(created.intervention_id.clone());
        f.clock.advance(1);
    }
    let (answered, token) = f.link(input(1)).await;
    assert!(accepted(&f.post(&token, "decision=approve").await));
    let mut seen = Vec::new();
    let mut next = None;
    let mut pages = 0;
    loop {
        let page = f.service.list("prod-eu", Some(InterventionState::Pending), 3, next.take()).await.unwrap();
        pages += 1;
        seen.extend(page.interventions.iter().map(|i| i.intervention_id.clone()));
        match page.next_token {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every pending one once, the completed one left out");
    assert!(pages >= 3);
    assert!(!seen.contains(&answered.intervention_id));
    assert!(matches!(
        f.service.list("prod-eu", None, 3, Some("bm9wZQ".into())).await,
        Err(crate::ports::store::StoreError::BadPageToken)
    ));
}

fn percent_encode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn characters_sqs_refuses_arrive_as_typed_in_a_sendable_body() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let typed = "no\u{FFFF}te\u{FFFE} \u{1F600}";
    let body = format!("decision=approve&note={}&_submissionId=s1", percent_encode(typed));
    assert!(accepted(&f.post(&token, &body).await));
    let queue = MemoryQueue::new();
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            f.clock.now(),
            f.clock.now()
        )
        .await
        .unwrap(),
        1
    );
    let message = &queue.messages()[0];
    let body = message.message_body().unwrap();
    assert!(body.chars().all(crate::domain::continuation::is_sendable), "{body:?}");
    let decoded: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(decoded["context"]["note"], json!(typed));
    assert!(f.store.parked().is_empty());
}

#[tokio::test]
async fn ids_with_characters_sqs_refuses_are_refused_at_creation_by_name() {
    let f = fixture();
    for field in ["environmentId", "correlationId", "ruleSetId"] {
        let mut bad = input(1);
        bad[field] = json!("run\u{FFFF}");
        let error = f.service.create(bad.to_string().as_bytes()).await.unwrap_err();
        let CreateError::Invalid(error) = error else { panic!("{field}: {error}") };
        assert_eq!(error.field, field);
        assert!(error.message.contains("U+FFFF"), "{error}");
    }
    let mut bad = input(1);
    bad["onTimeout"]["ruleSetId"] = json!("t\u{FFFE}");
    let Err(CreateError::Invalid(error)) = f.service.create(bad.to_string().as_bytes()).await else { panic!() };
    assert_eq!(error.field, "onTimeout.ruleSetId");
    assert!(f.store.unpublished(10, f.clock.now()).await.unwrap().is_empty());
}

fn outcome_name(result: &SubmitResult) -> &'static str {
    match result {
        SubmitResult::Accepted { .. } => "accepted",
        SubmitResult::Rejected(_) => "rejected",
        SubmitResult::BadBody(_) => "bad body",
        SubmitResult::Invalid { .. } => "invalid",
        SubmitResult::Conflict => "conflict",
        SubmitResult::ContinuationTooLarge { .. } => "continuation too large",
    }
}

#[tokio::test]
async fn a_continuation_too_large_to_queue_is_refused_before_anything_is_counted() {
    use crate::domain::continuation::MAX_MESSAGE_BYTES;
    let f = fixture();
    // How much the continuation weighs with an empty `order.notes`: fill it to 300 bytes under the limit,
    // so the link is created, and a 500-character note takes its continuation over.
    let mut probe = input(1);
    probe["context"]["order.notes"] = json!("");
    let (created, _) = f.link(probe.clone()).await;
    let stored = f.store.get(&InterventionId::parse(&created.intervention_id).unwrap()).await.unwrap().unwrap();
    let empty = Continuation::for_submission(&stored, &Submission::probe(stored.id)).message_bytes().unwrap();
    let mut big = probe;
    big["context"]["order.notes"] = json!("n".repeat(MAX_MESSAGE_BYTES - empty - 300));
    let (created, token) = f.link(big).await;
    let short = f.post(&token, "decision=approve&note=ok&_submissionId=s1").await;
    assert_eq!(outcome_name(&short), "accepted", "a continuation under the limit is accepted");
    let mut second = input(1);
    second["context"] = f
        .store
        .get(&InterventionId::parse(&created.intervention_id).unwrap())
        .await
        .unwrap()
        .map(|i| serde_json::to_value(i.context).unwrap())
        .unwrap();
    let (created, token) = f.link(second).await;
    let result = f.post(&token, &format!("decision=approve&note={}&_submissionId=s2", "x".repeat(500))).await;
    let SubmitResult::ContinuationTooLarge { bytes } = result else { panic!("{}", outcome_name(&result)) };
    assert!(bytes > MAX_MESSAGE_BYTES, "{bytes}");
    let id = InterventionId::parse(&created.intervention_id).unwrap();
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().uses, 0, "nothing counted");
    assert!(f.store.submissions(&id).await.unwrap().is_empty(), "nothing recorded");
    assert_eq!(f.store.unpublished(10, f.clock.now()).await.unwrap().len(), 1, "only the first is in the outbox");
}

#[tokio::test]
async fn a_run_context_that_could_never_be_queued_is_refused_at_creation() {
    let f = fixture();
    let mut big = input(1);
    big["context"]["order.notes"] = json!("n".repeat(300_000));
    let Err(CreateError::Invalid(error)) = f.service.create(big.to_string().as_bytes()).await else { panic!() };
    assert_eq!(error.field, "context");
    assert!(error.message.contains("at most 262144"), "{error}");
}

/// A queue that refuses one continuation id for good and takes the rest.
struct RefusingQueue {
    refuse: String,
    inner: MemoryQueue,
}

#[async_trait::async_trait]
impl crate::ports::queue::ContinuationQueue for RefusingQueue {
    async fn send_batch(
        &self,
        continuations: &[Continuation],
    ) -> Result<Vec<crate::ports::queue::Refused>, crate::ports::queue::QueueError> {
        let (refused, rest): (Vec<Continuation>, Vec<Continuation>) =
            continuations.iter().cloned().partition(|c| c.id == self.refuse);
        self.inner.send_batch(&rest).await?;
        Ok(refused
            .into_iter()
            .map(|c| crate::ports::queue::Refused { continuation_id: c.id, reason: "InvalidMessageContents".into() })
            .collect())
    }
}

#[tokio::test]
async fn a_continuation_the_queue_refuses_for_good_is_parked_and_holds_up_nothing() {
    let f = fixture();
    let (created, token) = f.link(input(3)).await;
    for id in ["s1", "s2", "s3"] {
        assert!(accepted(&f.post(&token, &format!("decision=approve&_submissionId={id}")).await));
    }
    let queue = RefusingQueue { refuse: format!("{}:s2", created.intervention_id), inner: MemoryQueue::new() };
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            f.clock.now(),
            f.clock.now()
        )
        .await
        .unwrap(),
        2
    );
    let sent: Vec<String> = queue.inner.messages().iter().map(|c| c.id.clone()).collect();
    assert_eq!(sent, [format!("{}:s1", created.intervention_id), format!("{}:s3", created.intervention_id)]);
    let parked = f.store.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!((parked[0].0.id.as_str(), parked[0].1.as_str()), (queue.refuse.as_str(), "InvalidMessageContents"));
    assert!(f.store.unpublished(10, f.clock.now()).await.unwrap().is_empty(), "never retried");
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            f.clock.now(),
            f.clock.now()
        )
        .await
        .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_sweep_takes_only_what_the_stream_had_its_chance_to_publish() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s1").await));
    let queue = MemoryQueue::new();
    let now = f.clock.now();
    let sweep_by = now.plus_millis(-SWEEP_AFTER_MILLIS);
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            sweep_by,
            now
        )
        .await
        .unwrap(),
        0,
        "too fresh to sweep"
    );
    f.clock.advance(SWEEP_AFTER_MILLIS);
    let now = f.clock.now();
    assert_eq!(
        publish_outbox(
            f.store.as_ref(),
            Outlets { queue: &queue, tasks: None, receipts: receipts(), messengers: Default::default() },
            now.plus_millis(-SWEEP_AFTER_MILLIS),
            now
        )
        .await
        .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_known_submission_id_with_other_values_is_409_on_a_live_link_and_the_links_410_on_a_dead_one() {
    let f = fixture();
    let (created, token) = f.link(input(2)).await;
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s1").await));
    assert!(matches!(f.post(&token, "decision=reject&_submissionId=s1").await, SubmitResult::Conflict));
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s2").await), "the last use");
    assert_eq!(f.store.get(&id_of(&created)).await.unwrap().unwrap().uses, 2);
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s1").await), "a repeat is answered as the first");
    assert!(matches!(
        f.post(&token, "decision=reject&_submissionId=s1").await,
        SubmitResult::Rejected(Rejection::UsedUp)
    ));
}

#[tokio::test]
async fn an_expired_token_answers_link_has_expired_without_the_store_even_after_ttl_removed_the_item() {
    let f = fixture();
    let keys = LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap();
    // A link of ours for an intervention the store no longer holds (TTL removed it), now past its expiry.
    let gone = InterventionId::random().unwrap();
    let token = keys.sign(&gone, Timestamp::from_millis(START));
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Rejected(Rejection::Expired)));
    // Before its expiry the same missing item is Not found.
    let live = keys.sign(&gone, Timestamp::from_millis(START + 1));
    assert!(matches!(f.post(&live, "decision=approve").await, SubmitResult::Rejected(Rejection::NotFound)));
}

#[tokio::test]
async fn the_body_is_not_read_for_a_forged_or_expired_link() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let never = || async { panic!("the body was read") as Result<Vec<u8>, BodyError> };
    let posted = Posted { content_type: Some("application/x-www-form-urlencoded"), idempotency_key: None };
    // The last character changed (to one it is not), so the MAC no longer verifies.
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let result = f.service.submit_posted(&forged, posted, never()).await.unwrap();
    assert!(matches!(result, SubmitResult::Rejected(Rejection::NotFound)));
    f.clock.set(Timestamp::from_millis(START + 3_600_000));
    let result = f.service.submit_posted(&token, posted, never()).await.unwrap();
    assert!(matches!(result, SubmitResult::Rejected(Rejection::Expired)));
}

#[tokio::test]
async fn a_too_large_body_on_a_dead_link_answers_the_links_410_and_on_a_live_one_413() {
    let f = fixture();
    let (created, token) = f.link(input(1)).await;
    let large = format!("decision=approve&note={}", "a".repeat(70_000));
    assert!(matches!(f.post(&token, &large).await, SubmitResult::BadBody(BodyError::TooLarge)));
    let id = InterventionId::parse(&created.intervention_id).unwrap();
    assert_eq!(f.service.cancel(&id).await.unwrap(), Cancellation::Cancelled);
    assert!(matches!(f.post(&token, &large).await, SubmitResult::Rejected(Rejection::Expired)));
}

fn keyed(key: &str) -> Value {
    let mut value = input(1);
    value["idempotencyKey"] = json!(key);
    value
}

#[tokio::test]
async fn a_retried_creation_with_its_key_is_the_same_intervention_and_another_input_is_refused() {
    let f = fixture();
    let (first, _) = f.link(keyed("exec-1/CreateApprovalLink/2026-11-25T10:00:00Z")).await;
    f.clock.advance(1_500);
    let (again, _) = f.link(keyed("exec-1/CreateApprovalLink/2026-11-25T10:00:00Z")).await;
    assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&first).unwrap(), "same id, link, expiry");
    // Key order and spacing do not make another input.
    let reordered: Value = serde_json::from_str(
        &serde_json::to_string_pretty(&keyed("exec-1/CreateApprovalLink/2026-11-25T10:00:00Z")).unwrap(),
    )
    .unwrap();
    assert_eq!(f.link(reordered).await.0.intervention_id, first.intervention_id);

    let mut other = keyed("exec-1/CreateApprovalLink/2026-11-25T10:00:00Z");
    other["maxUrlUses"] = json!(2);
    let error = f.service.create(other.to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(error, CreateError::KeyReused), "{error}");
    assert!(error.to_string().starts_with("idempotencyKey: "), "{error}");

    let (next_iteration, _) = f.link(keyed("exec-1/CreateApprovalLink/2026-11-25T10:05:00Z")).await;
    assert_ne!(next_iteration.intervention_id, first.intervention_id);
    let (unkeyed_a, _) = f.link(input(1)).await;
    let (unkeyed_b, _) = f.link(input(1)).await;
    assert_ne!(unkeyed_a.intervention_id, unkeyed_b.intervention_id, "without a key, every creation is new");
}

#[tokio::test]
async fn a_retry_finds_its_intervention_even_when_the_input_would_no_longer_pass() {
    let f = fixture();
    let mut value = keyed("k");
    value.as_object_mut().unwrap().remove("onTimeout");
    value["runAvailableUntil"] = json!("2026-11-25T11:00:00Z"); // the link (1 h) ends exactly then
    let (first, _) = f.link(value.clone()).await;
    f.clock.advance(60_000); // now the same input would outlive the run
    assert!(matches!(
        NewIntervention::parse(value.to_string().as_bytes(), f.clock.now()),
        Err(ref e) if e.field == "urlExpirationHours"
    ));
    assert_eq!(f.link(value).await.0.expires_at, first.expires_at);
}

#[tokio::test]
async fn a_bad_idempotency_key_is_refused_by_name() {
    let f = fixture();
    for bad in [json!(""), json!("a\u{7}b"), json!("x".repeat(513)), json!(7)] {
        let mut value = input(1);
        value["idempotencyKey"] = bad;
        let error = f.service.create(value.to_string().as_bytes()).await.unwrap_err();
        assert!(matches!(error, CreateError::Invalid(ref e) if e.field == "idempotencyKey"), "{error}");
    }
}

struct Waiting {
    f: Fixture,
    tasks: Arc<crate::memory::MemoryTasks>,
    queue: MemoryQueue,
}

fn waiting() -> Waiting {
    let f = fixture();
    let tasks = Arc::new(crate::memory::MemoryTasks::new());
    let service = f.service.clone().with_tasks(tasks.clone()).with_receipts(std::sync::Arc::new(receipts().clone()));
    Waiting {
        f: Fixture { service, store: f.store, clock: f.clock, scheduler: f.scheduler },
        tasks,
        queue: MemoryQueue::new(),
    }
}

impl Waiting {
    async fn publish(&self) -> usize {
        let outlets = Outlets {
            queue: &self.queue,
            tasks: Some(self.tasks.as_ref()),
            receipts: receipts(),
            messengers: Default::default(),
        };
        publish_outbox(self.f.store.as_ref(), outlets, self.f.clock.now(), self.f.clock.now()).await.unwrap()
    }

    async fn attach(&self, id: InterventionId, token: &str) -> Result<Attached, AttachError> {
        self.tasks.issue(token);
        let attachment =
            TaskAttachment { intervention_id: id, token: crate::domain::task::TaskToken::parse(token).unwrap() };
        self.f.service.attach_task(&attachment).await
    }
}

#[tokio::test]
async fn a_waiting_run_gets_the_decision_once_whatever_is_published_again() {
    let w = waiting();
    let (created, token) = w.f.link(input(1)).await;
    let id = id_of(&created);
    assert_eq!(w.attach(id, "task-1").await.unwrap(), Attached::Waiting);
    assert!(accepted(&w.f.post(&token, "decision=approve&_submissionId=s1").await));
    assert_eq!(w.publish().await, 1);
    let output: Value = serde_json::from_str(&w.tasks.output("task-1").expect("the task was answered")).unwrap();
    assert_eq!(output["outcome"], json!("submitted"));
    assert_eq!(output["context"]["decision"], json!("approve"));
    assert_eq!(output["id"], json!(format!("{id}:s1")));
    // The stream's retry and the sweep re-send the message; the task is answered only once.
    let again = w.f.store.continuations(&id).await.unwrap();
    let outlets = Outlets {
        queue: &w.queue,
        tasks: Some(w.tasks.as_ref()),
        receipts: receipts(),
        messengers: Default::default(),
    };
    settle_sent(w.f.store.as_ref(), outlets, &again, &[], w.f.clock.now()).await.unwrap();
    assert_eq!(w.tasks.succeed_calls(), 1);
    let stored = w.f.store.get(&id).await.unwrap().unwrap();
    assert!(
        matches!(stored.task, TaskStatus::Delivered { ref continuation_id, .. } if *continuation_id == format!("{id}:s1"))
    );
}

#[tokio::test]
async fn a_decision_recorded_before_the_token_is_delivered_on_attach_once() {
    let w = waiting();
    let (created, token) = w.f.link(input(1)).await;
    let id = id_of(&created);
    assert!(accepted(&w.f.post(&token, "decision=reject&_submissionId=early").await));
    assert_eq!(w.publish().await, 1);
    assert_eq!(w.tasks.succeed_calls(), 0, "no run waited yet");
    assert_eq!(w.attach(id, "task-late").await.unwrap(), Attached::Delivered);
    let output: Value = serde_json::from_str(&w.tasks.output("task-late").unwrap()).unwrap();
    assert_eq!(output["context"]["decision"], json!("reject"));
    assert_eq!(w.publish().await, 0);
    assert!(matches!(w.attach(id, "task-retry").await, Err(AttachError::AlreadyDelivered)));
    assert_eq!(w.tasks.succeed_calls(), 1);
}

#[tokio::test]
async fn a_timed_out_task_marks_the_run_gone_and_its_link_expired_without_retrying() {
    let w = waiting();
    let (created, token) = w.f.link(input(2)).await;
    let id = id_of(&created);
    w.attach(id, "task-t").await.unwrap();
    assert!(accepted(&w.f.post(&token, "decision=approve&_submissionId=a").await));
    w.tasks.time_out("task-t"); // the step's TimeoutSeconds passed before the publisher ran
    assert_eq!(w.publish().await, 1, "the queue still gets the continuation");
    assert_eq!(w.publish().await, 0);
    assert_eq!(w.tasks.succeed_calls(), 1, "one attempt, no retry loop");
    let stored = w.f.store.get(&id).await.unwrap().unwrap();
    assert!(
        matches!(stored.task, TaskStatus::Gone { ref reason, .. } if reason == "TaskDoesNotExist"),
        "{:?}",
        stored.task
    );
    let record = w.f.service.record(&id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&record).unwrap()["task"]["state"], json!("gone"));
    // One use of two is left, but the run is gone: the link says so.
    assert!(matches!(
        w.f.post(&token, "decision=approve&_submissionId=b").await,
        SubmitResult::Rejected(Rejection::Expired)
    ));
    assert!(matches!(w.f.service.view(&token).await.unwrap(), View::Rejected(Rejection::Expired)));
}

#[tokio::test]
async fn a_throttled_answer_stays_in_the_outbox_and_is_delivered_by_the_next_pass() {
    let w = waiting();
    let (created, token) = w.f.link(input(1)).await;
    let id = id_of(&created);
    w.attach(id, "task-x").await.unwrap();
    assert!(accepted(&w.f.post(&token, "decision=approve").await));
    w.tasks.fail_next(1);
    assert_eq!(w.publish().await, 0, "not marked published while its run is unanswered");
    assert_eq!(w.publish().await, 1);
    assert!(w.tasks.output("task-x").is_some());
    assert_eq!(w.tasks.succeed_calls(), 2);
    assert_eq!(w.queue.messages().len(), 1, "sent twice with one id (the in-memory queue keeps one)");
}

#[tokio::test]
async fn an_unknown_token_or_intervention_is_refused_by_name_and_nothing_is_stored() {
    let w = waiting();
    let (created, _) = w.f.link(input(1)).await;
    let id = id_of(&created);
    let attachment =
        TaskAttachment { intervention_id: id, token: crate::domain::task::TaskToken::parse("never-issued").unwrap() };
    assert!(matches!(
        w.f.service.attach_task(&attachment).await,
        Err(AttachError::TokenRefused(_, "TaskDoesNotExist"))
    ));
    assert_eq!(w.f.store.get(&id).await.unwrap().unwrap().task, TaskStatus::None);
    let unknown = InterventionId::random().unwrap();
    assert!(matches!(w.attach(unknown, "t").await, Err(AttachError::NotFound)));
}

#[tokio::test]
async fn cancel_tells_the_truth_too_late_after_an_answer_and_final_before_it() {
    let f = fixture();
    let (answered, token) = f.link(input(1)).await;
    let id = id_of(&answered);
    assert!(accepted(&f.post(&token, "decision=approve&_submissionId=s9").await));
    assert_eq!(
        f.service.cancel(&id).await.unwrap(),
        Cancellation::TooLate { state: InterventionState::Completed, continuation_ids: vec![format!("{id}:s9")] }
    );
    assert_eq!(f.service.record(&id).await.unwrap().unwrap().state, InterventionState::Completed);

    let (pending, token) = f.link(input(1)).await;
    let pending_id = id_of(&pending);
    assert_eq!(f.service.cancel(&pending_id).await.unwrap(), Cancellation::Cancelled);
    assert_eq!(f.service.cancel(&pending_id).await.unwrap(), Cancellation::Cancelled, "again: the same answer");
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
    f.clock.advance(2 * 3_600_000);
    assert_eq!(f.service.fire_timeout(&pending_id).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::Cancelled));
    assert!(f.store.continuations(&pending_id).await.unwrap().is_empty(), "nothing is ever queued");
    assert_eq!(f.service.cancel(&InterventionId::random().unwrap()).await.unwrap(), Cancellation::NotFound);
}

#[tokio::test]
async fn the_end_of_a_run_cancels_its_pending_interventions_only() {
    let f = fixture();
    let run = "arn:aws:states:us-east-1:123456789012:execution:refund:run-7";
    let mut value = input(1);
    value["correlationId"] = json!(run);
    let (a, _) = f.link(value.clone()).await;
    let (b, token_b) = f.link(value).await;
    let (other, _) = f.link(input(1)).await;
    assert!(accepted(&f.post(&token_b, "decision=approve&_submissionId=b1").await));
    // Links made just now: the index may be behind, so it is read again (after no pause here).
    let mut answers = f.service.cancel_run_pausing(run, |_| async {}).await.unwrap();
    answers.sort_by_key(|(id, _)| id.to_string());
    let mut expected = vec![
        (id_of(&a), Cancellation::Cancelled),
        (
            id_of(&b),
            Cancellation::TooLate {
                state: InterventionState::Completed,
                continuation_ids: vec![format!("{}:b1", id_of(&b))],
            },
        ),
    ];
    expected.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(answers, expected);
    assert!(f.store.get(&id_of(&other)).await.unwrap().unwrap().cancelled_at.is_none());
}

#[tokio::test]
async fn a_run_whose_index_shows_nothing_yet_is_read_again_after_a_pause() {
    let f = fixture();
    let run = "arn:aws:states:us-east-1:123456789012:execution:refund:run-late";
    let mut value = input(1);
    value["correlationId"] = json!(run);
    let pauses = std::sync::Mutex::new(Vec::new());
    let late = std::sync::Mutex::new(None);
    // The index catches up during the first pause: the link was made just before the run ended.
    let pause = |wait: std::time::Duration| {
        let (f, value, pauses, late) = (&f, &value, &pauses, &late);
        async move {
            f.clock.advance(wait.as_millis() as i64);
            let first = {
                let mut pauses = pauses.lock().unwrap();
                pauses.push(wait);
                pauses.len() == 1
            };
            if first {
                *late.lock().unwrap() = Some(id_of(&f.link(value.clone()).await.0));
            }
        }
    };
    let answers = f.service.cancel_run_pausing(run, pause).await.unwrap();
    let late = late.lock().unwrap().expect("made during the first pause");
    assert_eq!(answers, vec![(late, Cancellation::Cancelled)]);
    assert!(f.store.get(&late).await.unwrap().unwrap().cancelled_at.is_some());
    assert!(!f.scheduler.take_due(Timestamp::from_millis(i64::MAX)).contains(&late), "its timer is removed");
    // Found recent, so read once more; never more than INDEX_LOOKS reads.
    assert_eq!(*pauses.lock().unwrap(), vec![INDEX_WAIT; INDEX_LOOKS - 1]);
}

#[tokio::test]
async fn a_run_whose_links_are_older_than_the_index_lag_is_read_once_and_a_retry_changes_nothing() {
    let f = fixture();
    let run = "arn:aws:states:us-east-1:123456789012:execution:refund:run-old";
    let mut value = input(1);
    value["correlationId"] = json!(run);
    let (a, _) = f.link(value.clone()).await;
    let (b, _) = f.link(value).await;
    f.clock.advance(60_000);
    let never = |_| async { panic!("no pause: the links are older than the index's lag") };
    let first = f.service.cancel_run_pausing(run, never).await.unwrap();
    let cancelled_at = f.store.get(&id_of(&a)).await.unwrap().unwrap().cancelled_at;
    f.clock.advance(1_000);
    let mut again = f.service.cancel_run_pausing(run, never).await.unwrap();
    again.sort_by_key(|(id, _)| id.to_string());
    let mut expected = vec![(id_of(&a), Cancellation::Cancelled), (id_of(&b), Cancellation::Cancelled)];
    expected.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(again, expected);
    assert_eq!(first.len(), 2);
    assert_eq!(f.store.get(&id_of(&a)).await.unwrap().unwrap().cancelled_at, cancelled_at, "the first time stays");
}

// Named reviewers.

fn reviewers_input(ids: &[&str]) -> Value {
    let mut value = crate::domain::creation::tests::example();
    value.as_object_mut().unwrap().remove("maxUrlUses");
    value["reviewers"] = Value::Array(ids.iter().map(|id| json!({"id": id, "name": format!("Name {id}")})).collect());
    value
}

fn test_keys() -> LinkKeys {
    LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap()
}

impl Fixture {
    /// The created link and each reviewer's token, by reviewer id.
    async fn reviewer_links(&self, input: Value) -> (CreatedLink, std::collections::BTreeMap<String, String>) {
        let created = self.service.create(input.to_string().as_bytes()).await.unwrap();
        let links = created.context["approval.url"].as_object().expect("an object of reviewer id to link").clone();
        let tokens = links
            .into_iter()
            .map(|(id, link)| (id, link.as_str().unwrap().rsplit('/').next().unwrap().to_owned()))
            .collect();
        (created, tokens)
    }
}

#[tokio::test]
async fn each_reviewer_gets_a_link_of_their_own_in_an_object_at_the_generated_key() {
    let f = fixture();
    let (created, tokens) = f.reviewer_links(reviewers_input(&["ann@example.com", "bob"])).await;
    assert_eq!(tokens.keys().collect::<Vec<_>>(), ["ann@example.com", "bob"]);
    let links = &created.context["approval.url"];
    for (i, id) in ["ann@example.com", "bob"].iter().enumerate() {
        let link = links[id].as_str().unwrap();
        assert!(link.starts_with("https://links.example.com/i/v2.k1."), "{link}");
        let verified = test_keys().verify(&tokens[*id]).unwrap();
        assert_eq!(verified.reviewer, Some(i as u8));
        let View::Live(page) = f.service.view(&tokens[*id]).await.unwrap() else { panic!("live") };
        assert_eq!(page.reviewer, Some(i));
    }
    assert_ne!(tokens["ann@example.com"], tokens["bob"]);
    assert_eq!(created.context["order.id"], json!("A-1001"), "the run's context is kept");
    let record = f.service.record(&id_of(&created)).await.unwrap().unwrap();
    assert_eq!(record.max_uses, 2);
}

#[tokio::test]
async fn a_link_whose_reviewer_is_not_the_interventions_is_not_found() {
    let f = fixture();
    let (created, tokens) = f.reviewer_links(reviewers_input(&["ann", "bob"])).await;
    let id = id_of(&created);
    let expires = Timestamp::parse_rfc3339(&created.expires_at).unwrap();
    let keys = test_keys();
    // A forged index (the body's index byte changed under the MAC), a signed index past the reviewers,
    // and the one-link (v1) token of an intervention with reviewers: never issued, never found.
    let body = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        tokens["ann"].rsplit('.').next().unwrap(),
    )
    .unwrap();
    let mut forged = body.clone();
    forged[24] = 1;
    let forged = format!("v2.k1.{}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged));
    for token in [
        forged,
        keys.sign_for_reviewer(&id, expires, 2),
        keys.sign_for_reviewer(&id, expires, 255),
        keys.sign(&id, expires),
    ] {
        assert!(matches!(f.service.view(&token).await.unwrap(), View::Rejected(Rejection::NotFound)), "{token}");
        let posted = f.post(&token, "decision=approve&_submissionId=x1").await;
        assert!(matches!(posted, SubmitResult::Rejected(Rejection::NotFound)), "{posted:?}");
    }
    // A reviewer's (v2) token for an intervention without reviewers is not found either.
    let (plain, _) = f.link(input(3)).await;
    let token = keys.sign_for_reviewer(&id_of(&plain), Timestamp::parse_rfc3339(&plain.expires_at).unwrap(), 0);
    assert!(matches!(f.service.view(&token).await.unwrap(), View::Rejected(Rejection::NotFound)));
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::NotFound)));
    assert!(f.store.continuations(&id).await.unwrap().is_empty());
    assert!(f.store.continuations(&id_of(&plain)).await.unwrap().is_empty());
}

// A quorum.

fn quorum_input(ids: &[&str], approvals: u32) -> Value {
    let mut value = reviewers_input(ids);
    value["quorum"] = json!({"approvals": approvals, "field": "decision", "approve": "approve", "reject": "reject"});
    value
}

impl Fixture {
    async fn vote(&self, token: &str, decision: &str, sid: &str) -> SubmitResult {
        self.clock.advance(1_000);
        self.post(token, &format!("decision={decision}&_submissionId={sid}")).await
    }
}

#[tokio::test]
async fn one_reject_and_two_approvals_in_every_order_give_the_right_outcome_once() {
    use crate::domain::continuation::Outcome;
    let orders: [[(&str, &str); 3]; 6] = [
        [("ann", "approve"), ("bob", "approve"), ("cy", "reject")],
        [("ann", "approve"), ("cy", "reject"), ("bob", "approve")],
        [("cy", "reject"), ("ann", "approve"), ("bob", "approve")],
        [("bob", "approve"), ("ann", "approve"), ("cy", "reject")],
        [("bob", "approve"), ("cy", "reject"), ("ann", "approve")],
        [("cy", "reject"), ("bob", "approve"), ("ann", "approve")],
    ];
    for (quorum, expected) in [(2, Outcome::Approved), (3, Outcome::Rejected)] {
        for order in &orders {
            let f = fixture();
            let (created, tokens) = f.reviewer_links(quorum_input(&["ann", "bob", "cy"], quorum)).await;
            let mut answers = Vec::new();
            for (i, (who, decision)) in order.iter().enumerate() {
                answers.push(match f.vote(&tokens[*who], decision, &format!("v{i}")).await {
                    SubmitResult::Accepted { .. } => "accepted",
                    SubmitResult::Rejected(Rejection::Decided(_)) => "decided",
                    other => panic!("{other:?}"),
                });
            }
            let continuations = f.store.continuations(&id_of(&created)).await.unwrap();
            assert_eq!(continuations.len(), 1, "{quorum} of 3, {order:?}");
            assert_eq!(continuations[0].outcome, expected, "{quorum} of 3, {order:?}");
            let votes = continuations[0].votes.as_ref().unwrap();
            let decided_at = answers.iter().filter(|a| **a == "accepted").count();
            assert_eq!(votes.len(), decided_at, "every vote counted is listed: {answers:?}");
            // 2 of 3: decided at the second approval; 3 of 3: at the reject.
            let decider =
                order.iter().position(|(who, _)| Some(who.to_string()) == continuations[0].reviewer_id).unwrap();
            if quorum == 2 {
                let second_approval = order.iter().enumerate().filter(|(_, (_, d))| *d == "approve").nth(1).unwrap().0;
                assert_eq!(decider, second_approval, "{order:?}");
            } else {
                assert_eq!(order[decider].1, "reject", "{order:?}");
            }
        }
    }
}

#[tokio::test]
async fn an_undecided_quorum_times_out_or_cancels_whatever_the_votes_so_far() {
    let f = fixture();
    let mut input = quorum_input(&["ann", "bob", "cy"], 2);
    input["onTimeout"] = json!({"ruleSetId": "refund-timeout"});
    let (created, tokens) = f.reviewer_links(input.clone()).await;
    assert!(accepted(&f.vote(&tokens["ann"], "approve", "a1").await));
    f.clock.set(Timestamp::from_millis(EXPIRY));
    assert_eq!(f.service.fire_timeout(&id_of(&created)).await.unwrap(), TimeoutOutcome::Queued);
    let continuations = f.store.continuations(&id_of(&created)).await.unwrap();
    assert_eq!(continuations.iter().map(|c| c.outcome).collect::<Vec<_>>(), [Outcome::TimedOut]);

    let f = fixture();
    let (created, tokens) = f.reviewer_links(quorum_input(&["ann", "bob", "cy"], 2)).await;
    assert!(accepted(&f.vote(&tokens["ann"], "approve", "a1").await));
    assert_eq!(f.service.cancel(&id_of(&created)).await.unwrap(), Cancellation::Cancelled);
    assert!(matches!(f.vote(&tokens["bob"], "approve", "b1").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(f.store.continuations(&id_of(&created)).await.unwrap().is_empty());
}

/// A quorum of `ids` (all must approve) whose form has one more field, `comment`: text of `max_length`.
fn commented_quorum(ids: &[&str], max_length: Option<u32>) -> Value {
    let mut value = quorum_input(ids, ids.len() as u32);
    let mut comment = json!({"key": "comment", "label": "Comment", "type": "text", "multiline": true});
    if let Some(max) = max_length {
        comment["maxLength"] = json!(max);
    }
    value["formDocument"]["fields"].as_array_mut().unwrap().push(comment);
    value
}

async fn refusal(f: &Fixture, input: &Value) -> crate::domain::error::ConfigError {
    match f.service.create(input.to_string().as_bytes()).await {
        Err(CreateError::Invalid(error)) => error,
        other => panic!("should be refused: {:?}", other.map(|c| c.intervention_id)),
    }
}

/// The largest maxLength a refusal at `formDocument.fields[3].maxLength` says fits.
fn suggested_max_length(error: &crate::domain::error::ConfigError) -> u32 {
    assert_eq!(error.field, "formDocument.fields[3].maxLength", "{error}");
    let (_, tail) = error.message.rsplit_once("set maxLength to at most ").expect("the largest that fits");
    tail.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_quorum_whose_deciding_continuation_could_outgrow_a_message_is_refused_at_creation_by_name() {
    let f = fixture();
    // Four reviewers who may each write 10,000 characters (60 KB and more as JSON).
    let four = commented_quorum(&["ann", "bob", "cy", "dee"], None);
    let error = refusal(&f, &four).await;
    assert!(error.message.contains("could be") && error.message.contains("at most 262144"), "{error}");
    assert!(error.message.contains("no maxLength, so 10000"), "{error}");
    // The maxLength it names fits, and one more does not.
    let most = suggested_max_length(&error);
    let mut fits = commented_quorum(&["ann", "bob", "cy", "dee"], Some(most));
    f.service.create(fits.to_string().as_bytes()).await.expect("the maxLength named fits");
    fits["formDocument"]["fields"][3]["maxLength"] = json!(most + 1);
    assert_eq!(suggested_max_length(&refusal(&f, &fits).await), most);
    // A 225,000-character context and two reviewers with 10,000-character comments.
    let mut context = commented_quorum(&["ann", "bob"], Some(10_000));
    context["context"]["order.notes"] = json!("n".repeat(225_000));
    let error = refusal(&f, &context).await;
    assert!(suggested_max_length(&error) < 10_000, "{error}");
    // No comment at all fits beside a context that leaves too little room for 20 reviewers' votes.
    context["reviewers"] = reviewers_input(
        &(0..20).map(|i| format!("r{i}")).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(),
    )["reviewers"]
        .clone();
    context["quorum"]["approvals"] = json!(20);
    context["context"]["order.notes"] = json!("n".repeat(250_000));
    let error = refusal(&f, &context).await;
    assert_eq!(error.field, "quorum", "{error}");
    // Twenty reviewers with 5,000-character comments (CJK: 15 KB each).
    let ids: Vec<String> = (0..20).map(|i| format!("reviewer-{i}@example.com")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let error = refusal(&f, &commented_quorum(&ids, Some(5_000))).await;
    assert!(suggested_max_length(&error) < 5_000, "{error}");
}

#[tokio::test]
async fn a_quorum_of_20_reviewers_each_answering_with_the_largest_input_the_form_allows_decides() {
    use crate::domain::continuation::MAX_MESSAGE_BYTES;
    // Long reviewer ids (their names, `Name <id>`, at the longest), and a comment as long as creation
    // allows for them.
    let ids: Vec<String> = (0..20).map(|i| format!("{i:02}{}", "r".repeat(247))).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let most = suggested_max_length(&refusal(&fixture(), &commented_quorum(&ids, None)).await);
    for (name, character) in [("4-byte characters", '\u{1D11E}'), ("control characters", '\u{1}')] {
        let f = fixture();
        let (created, tokens) = f.reviewer_links(commented_quorum(&ids, Some(most))).await;
        let id = id_of(&created);
        let comment = percent_encode(&character.to_string().repeat(most as usize));
        let note = percent_encode(&character.to_string().repeat(500));
        for (i, reviewer) in ids.iter().enumerate() {
            f.clock.advance(1_000);
            let sid = format!("{i:02}{}", "s".repeat(62));
            let body = format!(
                "decision=approve&refund.amount=0.000123456789012&note={note}&comment={comment}&_submissionId={sid}"
            );
            let result = f.post(&tokens[*reviewer], &body).await;
            assert!(accepted(&result), "{name}: vote {i}: {}", outcome_name(&result));
        }
        let continuations = f.store.continuations(&id).await.unwrap();
        assert_eq!(continuations.len(), 1, "{name}: the last vote decides");
        assert_eq!(continuations[0].outcome, Outcome::Approved);
        assert_eq!(continuations[0].votes.as_ref().unwrap().len(), 20);
        let bytes = continuations[0].message_bytes().unwrap();
        assert!(bytes <= MAX_MESSAGE_BYTES, "{name}: {bytes}");
        println!("{name}: maxLength {most}, deciding continuation {bytes} bytes");
    }
}

// No self-approval.

// Reminders.

use crate::ports::store::ReminderOutcome;

/// Half the example's hour: the reminder at 50 % of the expiry.
const REMIND_AT: i64 = START + 1_800_000;

fn remind_input(mut value: Value, to: &[&str]) -> Value {
    value["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
    value
}

#[tokio::test]
async fn a_reminder_is_refused_by_name_without_reviewers_for_others_or_not_before_the_expiry() {
    let f = fixture();
    let cases = [
        (remind_input(input(1), &["ann"]), "remind"),
        (remind_input(reviewers_input(&["ann"]), &["eve"]), "remind.to[0]"),
        (remind_input(reviewers_input(&["ann", "bob"]), &["ann", "ann"]), "remind.to[1]"),
        (remind_input(reviewers_input(&["ann", "bob"]), &[]), "remind.to"),
    ];
    for (value, field) in cases {
        let error = f.service.create(value.to_string().as_bytes()).await.unwrap_err();
        assert!(matches!(error, CreateError::Invalid(ref e) if e.field == field), "{field}: {error}");
    }
    let mut requester = remind_input(reviewers_input(&["ann", "bob"]), &["bob"]);
    requester["requestedBy"] = json!("bob");
    let error = f.service.create(requester.to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(error, CreateError::Invalid(ref e) if e.field == "remind.to[0]"), "{error}");
    for (after, field) in [(json!(1), "remind.after"), (json!(0), "remind.after"), (json!("soon"), "remind.after")] {
        let mut value = remind_input(reviewers_input(&["ann"]), &["ann"]);
        value["remind"]["after"] = after;
        let error = f.service.create(value.to_string().as_bytes()).await.unwrap_err();
        assert!(matches!(error, CreateError::Invalid(ref e) if e.field == field), "{error}");
    }
    let mut value = remind_input(reviewers_input(&["ann"]), &["ann"]);
    value["remind"].as_object_mut().unwrap().remove("ruleSetId");
    let error = f.service.create(value.to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(error, CreateError::Invalid(ref e) if e.field == "remind.ruleSetId"), "{error}");
    assert!(f.store.unpublished(10, f.clock.now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reminder_is_never_delivered_to_a_waiting_run() {
    let w = waiting();
    // One run waits before the reminder, one attaches after it was recorded.
    let (before, before_tokens) = w.f.reviewer_links(remind_input(reviewers_input(&["ann"]), &["ann"])).await;
    let (after, after_tokens) = w.f.reviewer_links(remind_input(reviewers_input(&["ann"]), &["ann"])).await;
    assert_eq!(w.attach(id_of(&before), "task-1").await.unwrap(), Attached::Waiting);
    w.f.clock.set(Timestamp::from_millis(REMIND_AT));
    for created in [&before, &after] {
        assert_eq!(w.f.service.fire_reminder(&id_of(created)).await.unwrap(), ReminderOutcome::Queued);
    }
    assert_eq!(w.publish().await, 2, "the reminders go to the queue");
    assert_eq!(w.attach(id_of(&after), "task-2").await.unwrap(), Attached::Waiting, "a reminder is no decision");
    assert_eq!(w.tasks.succeed_calls(), 0, "and never to a run");
    assert!(accepted(&w.f.post(&before_tokens["ann"], "decision=approve&_submissionId=s1").await));
    assert!(accepted(&w.f.post(&after_tokens["ann"], "decision=approve&_submissionId=s2").await));
    assert_eq!(w.publish().await, 2);
    for task in ["task-1", "task-2"] {
        let output: Value = serde_json::from_str(&w.tasks.output(task).expect("answered")).unwrap();
        assert_eq!(output["outcome"], json!("submitted"), "{task}");
    }
    assert_eq!(w.tasks.succeed_calls(), 2);
}

#[tokio::test]
async fn a_reminder_ahead_of_the_decision_in_one_batch_does_not_take_the_runs_one_try() {
    let w = waiting();
    let (created, token) = w.f.link(input(1)).await;
    let id = id_of(&created);
    w.attach(id, "task-r").await.unwrap();
    assert!(accepted(&w.f.post(&token, "decision=approve&_submissionId=d1").await));
    let decision = w.f.store.continuations(&id).await.unwrap().remove(0);
    let mut reminder = decision.clone();
    reminder.outcome = Outcome::Reminder;
    reminder.id = format!("{id}:reminder");
    let batch = [reminder, decision];
    let queue = MemoryQueue::new();
    let outlets =
        Outlets { queue: &queue, tasks: Some(w.tasks.as_ref()), receipts: receipts(), messengers: Default::default() };
    settle_sent(w.f.store.as_ref(), outlets, &batch, &[], w.f.clock.now()).await.unwrap();
    let output: Value = serde_json::from_str(&w.tasks.output("task-r").expect("the decision reached the run")).unwrap();
    assert_eq!(output["outcome"], json!("submitted"));
    assert_eq!(w.tasks.succeed_calls(), 1);
}

/// The receipt keys the tests' publishers sign with.
fn receipts() -> &'static crate::memory::LocalReceipts {
    static KEYS: std::sync::OnceLock<crate::memory::LocalReceipts> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| crate::memory::LocalReceipts::random("test").expect("a random receipt key"))
}

// An operator's actions: expire now, re-send, extend.

fn operator(reason: &str) -> crate::domain::lifecycle::Operator {
    crate::domain::lifecycle::Operator::new("arn:aws:iam::123456789012:user/ops", Some(reason)).unwrap()
}

fn refused_by(acted: Acted) -> crate::domain::lifecycle::ActionRefusal {
    match acted {
        Acted::Refused { refusal, .. } => refusal,
        other => panic!("not refused: {other:?}"),
    }
}

fn done(acted: Acted) -> ActionDone {
    match acted {
        Acted::Done(done) => done,
        other => panic!("not done: {other:?}"),
    }
}

#[tokio::test]
async fn an_operator_expires_now_the_timeout_continuation_queued_once_and_its_timers_removed() {
    use crate::domain::lifecycle::ActionRefusal;
    let w = waiting();
    let (created, token) = w.f.link(input(1)).await;
    let id = id_of(&created);
    assert_eq!(w.attach(id, "task-1").await.unwrap(), Attached::Waiting);
    let expired = done(w.f.service.expire_as(&id, &operator("stuck")).await.unwrap());
    assert_eq!(expired.state, InterventionState::TimedOut);
    assert_eq!(expired.expires_at, Timestamp::from_millis(START).to_rfc3339());
    assert_eq!(expired.continuation_id.as_deref(), Some(format!("{id}:timeout").as_str()));
    assert!(matches!(w.f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(w.f.scheduler.take_due(Timestamp::from_millis(EXPIRY + 5)).is_empty(), "the timer is removed");
    // The waiting run gets the timeout continuation from the publisher, as from the timer.
    assert_eq!(w.publish().await, 1);
    let output: Value = serde_json::from_str(&w.tasks.output("task-1").expect("the run was answered")).unwrap();
    assert_eq!(output["outcome"], json!("timedOut"));
    w.f.clock.set(Timestamp::from_millis(EXPIRY + 5));
    assert_eq!(w.f.service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut));
    assert_eq!(w.f.store.continuations(&id).await.unwrap().len(), 1, "one continuation in the end");
    assert_eq!(refused_by(w.f.service.expire_as(&id, &operator("again")).await.unwrap()), ActionRefusal::TimedOut);
    let record = serde_json::to_value(w.f.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["actions"][0]["action"], json!("expire"));
    assert_eq!(record["actions"][0]["by"], json!("arn:aws:iam::123456789012:user/ops"));
    assert_eq!(record["actions"][0]["reason"], json!("stuck"));
    assert_eq!(record["actions"][0]["continuationId"], json!(format!("{id}:timeout")));
}

#[tokio::test]
async fn expire_now_is_refused_by_name_when_too_late_and_just_expires_without_on_timeout() {
    use crate::domain::lifecycle::ActionRefusal;
    let f = fixture();
    let (answered, token) = f.link(input(1)).await;
    assert!(accepted(&f.post(&token, "decision=approve").await));
    assert_eq!(
        refused_by(f.service.expire_as(&id_of(&answered), &operator("x")).await.unwrap()),
        ActionRefusal::Decided
    );
    let (cancelled, _) = f.link(input(1)).await;
    f.service.cancel(&id_of(&cancelled)).await.unwrap();
    assert_eq!(
        refused_by(f.service.expire_as(&id_of(&cancelled), &operator("x")).await.unwrap()),
        ActionRefusal::Cancelled
    );
    let mut without = input(1);
    without.as_object_mut().unwrap().remove("onTimeout");
    let (unset, token) = f.link(without).await;
    let expired = done(f.service.expire_as(&id_of(&unset), &operator("x")).await.unwrap());
    assert_eq!((expired.state, expired.continuation_id), (InterventionState::Expired, None));
    assert!(matches!(f.post(&token, "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
    assert_eq!(refused_by(f.service.expire_as(&id_of(&unset), &operator("x")).await.unwrap()), ActionRefusal::Expired);
    assert!(f.store.continuations(&id_of(&unset)).await.unwrap().is_empty());
    assert_eq!(f.service.expire_as(&InterventionId::random().unwrap(), &operator("x")).await.unwrap(), Acted::NotFound);
}

fn notified_reviewers() -> Value {
    let mut value = reviewers_input(&["ann", "bob"]);
    value["reviewers"][0]["notify"] = json!({"email": ["ann@example.com"]});
    value["reviewers"][1]["notify"] = json!({"email": ["bob@example.com"]});
    value
}

fn with_email(f: Fixture) -> Fixture {
    let channels = crate::domain::message::Configured { email: true, ..Default::default() };
    Fixture { service: f.service.with_channels(channels), ..f }
}

#[tokio::test]
async fn a_resend_sends_the_links_again_to_those_pending_or_to_one_reviewer_at_a_corrected_address() {
    use crate::domain::lifecycle::ActionRefusal;
    let f = with_email(fixture());
    let (created, tokens) = f.reviewer_links(notified_reviewers()).await;
    let id = id_of(&created);
    let requests = f.store.messages(&id).await.unwrap();
    assert_eq!(requests.len(), 2);
    let again = done(f.service.resend_as(&id, &operator("lost"), ResendTo::default()).await.unwrap());
    assert_eq!(again.message_ids, vec![format!("{id}.s0-0"), format!("{id}.s0-1")]);
    assert!(accepted(&f.post(&tokens["bob"], "decision=approve&_submissionId=b1").await));
    let again = done(f.service.resend_as(&id, &operator("lost"), ResendTo::default()).await.unwrap());
    assert_eq!(again.message_ids, vec![format!("{id}.s1-0")], "bob answered: ann only");
    let to = |reviewer: &str, notify: Option<Value>| ResendTo {
        reviewer: Some(reviewer.to_owned()),
        notify: notify.map(|n| serde_json::from_value(n).unwrap()),
    };
    let corrected = json!({"email": ["ann@corp.example.com"]});
    let again = done(f.service.resend_as(&id, &operator("typo"), to("ann", Some(corrected))).await.unwrap());
    let messages = f.store.messages(&id).await.unwrap();
    let sent = messages.iter().find(|m| m.id == again.message_ids[0]).unwrap();
    assert_eq!(sent.to, vec!["ann@corp.example.com"]);
    assert_eq!(sent.links, requests.iter().find(|m| m.reviewer == Some(0)).unwrap().links, "ann's own links");
    assert_eq!(
        refused_by(f.service.resend_as(&id, &operator("x"), to("bob", None)).await.unwrap()),
        ActionRefusal::ReviewerAnswered
    );
    let slack = to("ann", Some(json!({"slack": "C0123456789"})));
    assert_eq!(
        refused_by(f.service.resend_as(&id, &operator("x"), slack).await.unwrap()),
        ActionRefusal::ChannelNotConfigured
    );
    let bad = to("ann", Some(json!({"email": ["not an address"]})));
    assert!(
        matches!(f.service.resend_as(&id, &operator("x"), bad).await.unwrap(), Acted::Invalid(e) if e.field == "notify.email[0]")
    );
    let nobody = to("carol", None);
    assert!(
        matches!(f.service.resend_as(&id, &operator("x"), nobody).await.unwrap(), Acted::Invalid(e) if e.field == "reviewer")
    );
    let record = serde_json::to_value(f.service.record(&id).await.unwrap().unwrap()).unwrap();
    let actions: Vec<_> = record["actions"].as_array().unwrap().iter().map(|a| a["action"].clone()).collect();
    assert_eq!(actions, vec![json!("resend"), json!("resend"), json!("resend")]);
    assert_eq!(record["actions"][2]["reviewerId"], json!("ann"));
}

#[tokio::test]
async fn a_resend_on_an_unconfigured_channel_or_to_nobody_is_refused_by_name() {
    use crate::domain::lifecycle::ActionRefusal;
    let f = with_email(fixture());
    let (created, _) = f.reviewer_links(notified_reviewers()).await;
    let id = id_of(&created);
    let unconfigured = f.service.clone().with_channels(Default::default());
    assert_eq!(
        refused_by(unconfigured.resend_as(&id, &operator("x"), ResendTo::default()).await.unwrap()),
        ActionRefusal::ChannelNotConfigured
    );
    f.service.cancel(&id).await.unwrap();
    assert_eq!(
        refused_by(f.service.resend_as(&id, &operator("x"), ResendTo::default()).await.unwrap()),
        ActionRefusal::Cancelled
    );
    let (plain, _) = f.link(input(1)).await;
    assert_eq!(
        refused_by(f.service.resend_as(&id_of(&plain), &operator("x"), ResendTo::default()).await.unwrap()),
        ActionRefusal::NothingToSend
    );
}

#[tokio::test]
async fn an_extension_moves_the_expiry_and_its_timer_old_links_keep_theirs_and_new_ones_are_sent() {
    use crate::domain::lifecycle::ActionRefusal;
    let w = waiting();
    let f = with_email(Fixture {
        service: w.f.service.clone(),
        store: w.f.store.clone(),
        clock: w.f.clock.clone(),
        scheduler: w.f.scheduler.clone(),
    });
    let (created, tokens) = f.reviewer_links(notified_reviewers()).await;
    let id = id_of(&created);
    assert_eq!(w.attach(id, "task-1").await.unwrap(), Attached::Waiting);
    let later = Timestamp::from_millis(EXPIRY + 3_600_000);
    let extended = done(f.service.extend_as(&id, &operator("on leave"), later).await.unwrap());
    assert_eq!(extended.expires_at, later.to_rfc3339());
    assert_eq!(extended.message_ids.len(), 2);
    let messages = f.store.messages(&id).await.unwrap();
    let new = messages.iter().find(|m| m.id == extended.message_ids[0]).unwrap();
    let new_token = new.links.open.rsplit('/').next().unwrap().to_owned();
    assert_ne!(new_token, tokens["ann"]);
    // The timer moved: nothing at the old expiry, the timeout at the new one.
    assert!(f.scheduler.take_due(Timestamp::from_millis(EXPIRY + 5)).is_empty());
    f.clock.set(Timestamp::from_millis(EXPIRY + 5));
    assert_eq!(f.service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Refused(TimeoutRefusal::NotDue));
    assert!(matches!(f.post(&tokens["ann"], "decision=approve").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(accepted(&f.post(&new_token, "decision=approve&_submissionId=a1").await));
    assert_eq!(refused_by(f.service.extend_as(&id, &operator("x"), later).await.unwrap()), ActionRefusal::NotLater);
    let record = serde_json::to_value(f.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["actions"][0]["action"], json!("extend"));
    assert_eq!(record["actions"][0]["expiresAt"], json!(later.to_rfc3339()));
}

#[tokio::test]
async fn an_extension_is_refused_by_name_not_later_past_the_run_or_with_its_run_gone() {
    use crate::domain::lifecycle::ActionRefusal;
    let w = waiting();
    let (created, _) = w.f.link(input(1)).await;
    let id = id_of(&created);
    let run_until = w.f.store.get(&id).await.unwrap().unwrap().run_available_until;
    let extend = |at: Timestamp| {
        let service = w.f.service.clone();
        async move { refused_by(service.extend_as(&id, &operator("x"), at).await.unwrap()) }
    };
    assert_eq!(extend(Timestamp::from_millis(EXPIRY)).await, ActionRefusal::NotLater);
    assert_eq!(extend(run_until.plus_millis(1)).await, ActionRefusal::PastRunAvailability);
    assert_eq!(w.attach(id, "task-1").await.unwrap(), Attached::Waiting);
    w.tasks.time_out("task-1");
    assert_eq!(extend(Timestamp::from_millis(EXPIRY + 60_000)).await, ActionRefusal::RunGone);
    let stored = w.f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, Timestamp::from_millis(EXPIRY), "unchanged");
    assert!(stored.task.is_gone(), "the run is recorded gone, as the publisher records it");
    assert_eq!(extend(Timestamp::from_millis(EXPIRY + 60_000)).await, ActionRefusal::RunGone, "by the guards now");
    let unlinked = Service::without_links(w.f.store.clone(), w.f.clock.clone());
    let acted = unlinked.extend_as(&id, &operator("x"), Timestamp::from_millis(EXPIRY + 60_000)).await.unwrap();
    assert_eq!(refused_by(acted), ActionRefusal::NoLinkKeys);
    // Without a channel the new links would reach no one, and the old ones still die at the old expiry.
    let (created, _) = w.f.link(input(1)).await;
    let id = id_of(&created);
    assert_eq!(extend(Timestamp::from_millis(EXPIRY + 60_000)).await, ActionRefusal::RunGone, "the first one");
    let fresh = w.f.service.extend_as(&id, &operator("x"), Timestamp::from_millis(EXPIRY + 60_000)).await.unwrap();
    assert_eq!(refused_by(fresh), ActionRefusal::NothingToSend);
    let stored = w.f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, Timestamp::from_millis(EXPIRY), "unchanged");
}

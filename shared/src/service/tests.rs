use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::continuation::Outcome;
use crate::memory::{MemoryQueue, MemoryStore};
use crate::queue::publish_outbox;
use crate::time::ManualClock;
use crate::token::LinkKey;

const START: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z

struct Fixture {
    service: Service,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![3; 32]).unwrap(), vec![]).unwrap());
    let service = Service::new(store.clone(), keys, clock.clone(), "https://links.example.com/");
    Fixture { service, store, clock }
}

fn input(max_uses: u32) -> Value {
    let mut value = crate::creation::tests::example();
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
    assert!(f.store.unpublished(10).await.unwrap().is_empty());
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
    assert_eq!(publish_outbox(f.store.as_ref(), &queue).await.unwrap(), 1);
    assert_eq!(publish_outbox(f.store.as_ref(), &queue).await.unwrap(), 0);
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
    assert!(matches!(f.post(&token, "decision=reject&_submissionId=dbl").await, SubmitResult::Conflict));
    assert!(matches!(
        f.post(&token, "decision=approve&_submissionId=other").await,
        SubmitResult::Rejected(Rejection::UsedUp)
    ));
    assert_eq!(f.store.unpublished(10).await.unwrap().len(), 1);
    assert_eq!(f.store.allowance_used("prod-eu", "2026-11").await.unwrap(), 1);
}

#[tokio::test]
async fn invalid_input_counts_no_use() {
    let f = fixture();
    let (_, token) = f.link(input(1)).await;
    let result = f.post(&token, "decision=maybe&_submissionId=s1").await;
    let SubmitResult::Invalid { errors, submission_id, .. } = result else { panic!("{result:?}") };
    assert_eq!(submission_id, "s1");
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
    assert!(f.service.cancel(&id).await.unwrap());
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
    let entries = f.store.unpublished(10).await.unwrap();
    assert!(
        !crate::continuation::Continuation::for_submission(&entries[0].intervention, &entries[0].submission)
            .counts_against_allowance
    );
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
    assert_eq!(f.store.unpublished(1000).await.unwrap().len(), won);
    (won, used_up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_accept_exactly_min_n_max() {
    assert_eq!(race(1, 200).await, (1, 199));
    assert_eq!(race(5, 200).await, (5, 195));
    assert_eq!(race(20, 7).await, (7, 0));
}

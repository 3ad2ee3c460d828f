//! The store suite: each behaviour of the store port is one test body, run on the memory store (the
//! embedded default) and on DynamoDB (dynoxide): `memory::<name>` and `dynamodb::<name>`. The lifecycle
//! decides each change (`domain::lifecycle`); these check that both stores hold it the same way.

use human_intervention::domain::continuation::{Continuation, Outcome};
use human_intervention::domain::lifecycle::{self, Settlement};
use human_intervention::domain::model::ReminderRefusal;
use human_intervention::domain::task::{TaskToken, TASK_CLAIM_MILLIS};
use human_intervention::domain::time::Clock;
use human_intervention::ports::store::ReminderOutcome;
use human_intervention::service::deliver_task;
use intervention_tests::suite::{accepted, Bench};
use intervention_tests::{design_example, on_both_stores};
use serde_json::{json, Value};

fn input() -> Value {
    design_example("2026-11-26T10:00:00Z")
}

fn reviewers_input(reviewers: usize, remind_to: &[usize]) -> Value {
    let mut input = input();
    input["maxUrlUses"] = json!(1);
    input.as_object_mut().expect("an object").remove("maxUrlUses");
    input["reviewers"] =
        Value::Array((0..reviewers).map(|i| json!({"id": format!("r{i}"), "name": format!("Reviewer {i}")})).collect());
    let to: Vec<String> = remind_to.iter().map(|i| format!("r{i}")).collect();
    input["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
    input
}

on_both_stores!(
    a_reminder_decided_before_the_waiting_run_went_is_refused_after,
    a_delivery_claim_is_free_again_at_exactly_its_hold,
    continuations_list_the_answers_first_and_the_reminder_last,
    a_waiting_run_gets_the_first_answer_whichever_continuation_the_publisher_holds,
    a_cancel_decided_on_the_stored_item_is_too_late_after_an_answer,
);

/// Drift (memory refused, DynamoDB queued): the reminder is decided on a read where a run waits; the run
/// goes (Step Functions refuses its token) before the write; the write must be refused as cancelled.
async fn a_reminder_decided_before_the_waiting_run_went_is_refused_after(b: Bench) {
    let (id, _) = b.create(&reviewers_input(2, &[0, 1])).await;
    b.attach(id, "task-1").await.expect("attached");
    b.clock.advance(31 * 60_000);
    let read = b.store.get(&id).await.unwrap().unwrap();
    let change = lifecycle::remind(&read, b.clock.now()).expect("due and pending");
    let reminder = Continuation::for_reminder(&read).expect("a reminder");
    let token = TaskToken::parse("task-1").unwrap();
    b.store
        .settle_task(&id, &lifecycle::settle(&token, &Settlement::Gone("TaskDoesNotExist".into()), b.clock.now()))
        .await
        .unwrap();
    let outcome = b.store.remind(&read, &reminder, &change).await.unwrap();
    assert_eq!(outcome, ReminderOutcome::Refused(ReminderRefusal::Cancelled), "{}", b.name);
    assert!(b.store.continuations(&id).await.unwrap().is_empty(), "{}: nothing recorded", b.name);
}

/// Drift (memory freed it, DynamoDB did not): a claim exactly TASK_CLAIM_MILLIS old is free.
async fn a_delivery_claim_is_free_again_at_exactly_its_hold(b: Bench) {
    let (id, _) = b.create(&input()).await;
    b.attach(id, "task-1").await.expect("attached");
    let at = b.clock.now();
    assert!(b.store.claim_task(&id, &lifecycle::claim(at)).await.unwrap().is_some(), "{}", b.name);
    let before = at.plus_millis(TASK_CLAIM_MILLIS - 1);
    assert!(b.store.claim_task(&id, &lifecycle::claim(before)).await.unwrap().is_none(), "{}: held", b.name);
    let exactly = at.plus_millis(TASK_CLAIM_MILLIS);
    let token = b.store.claim_task(&id, &lifecycle::claim(exactly)).await.unwrap();
    assert_eq!(token.map(|t| t.expose().to_owned()).as_deref(), Some("task-1"), "{}: free at exactly its hold", b.name);
}

/// Drift (a reminder first in memory, last on DynamoDB): both list the answers, then the reminder.
async fn continuations_list_the_answers_first_and_the_reminder_last(b: Bench) {
    let (id, tokens) = b.create(&reviewers_input(2, &[0, 1])).await;
    b.clock.advance(31 * 60_000);
    assert_eq!(b.service.fire_reminder(&id).await.unwrap(), ReminderOutcome::Queued, "{}", b.name);
    b.clock.advance(1_000);
    assert!(accepted(&b.post(&tokens["r0"], "decision=approve&_submissionId=s1").await), "{}", b.name);
    let outcomes: Vec<Outcome> = b.store.continuations(&id).await.unwrap().iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [Outcome::Submitted, Outcome::Reminder], "{}", b.name);
    let cancel = b.service.cancel(&id).await.unwrap();
    let ids = match cancel {
        human_intervention::service::Cancellation::TooLate { continuation_ids, .. } => continuation_ids,
        other => panic!("{}: {other:?}", b.name),
    };
    assert_eq!(ids, [format!("{id}:s1"), format!("{id}:reminder")], "{}", b.name);
}

/// Defect: a publisher holding a later continuation (the first one's delivery was throttled) delivered
/// that one; the run must get the first answer, once.
async fn a_waiting_run_gets_the_first_answer_whichever_continuation_the_publisher_holds(b: Bench) {
    let mut multi = input();
    multi["maxUrlUses"] = json!(2);
    let (id, token) = b.create(&multi).await;
    b.attach(id, "task-1").await.expect("attached");
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s1").await), "{}", b.name);
    b.clock.advance(1_000);
    assert!(accepted(&b.post(&token, "decision=reject&_submissionId=s2").await), "{}", b.name);
    let recorded = b.store.continuations(&id).await.unwrap();
    let later = recorded.iter().find(|c| c.id.ends_with(":s2")).expect("the second answer");
    let delivered = deliver_task(b.store.as_ref(), b.tasks.as_ref(), later, b.clock.now()).await.unwrap();
    assert_eq!(delivered, human_intervention::service::Delivery::Delivered, "{}", b.name);
    let output: Value = serde_json::from_str(&b.tasks.output("task-1").expect("answered")).unwrap();
    assert_eq!(output["id"], json!(format!("{id}:s1")), "{}: the first answer", b.name);
    b.publish().await;
    assert_eq!(b.tasks.succeed_calls(), 1, "{}: once", b.name);
}

/// A cancel is decided on the stored item (no read first): too late after an answer, cancelled before.
async fn a_cancel_decided_on_the_stored_item_is_too_late_after_an_answer(b: Bench) {
    use human_intervention::service::Cancellation;
    let (answered, token) = b.create(&input()).await;
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s1").await), "{}", b.name);
    assert!(matches!(b.service.cancel(&answered).await.unwrap(), Cancellation::TooLate { .. }), "{}", b.name);
    let (pending, _) = b.create(&input()).await;
    assert_eq!(b.service.cancel(&pending).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.service.cancel(&pending).await.unwrap(), Cancellation::Cancelled, "{}: again", b.name);
}

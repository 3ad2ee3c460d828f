//! The store suite: each behaviour of the store port is one test body, run on the memory store (the
//! embedded default) and on DynamoDB (dynoxide): `memory::<name>` and `dynamodb::<name>`. The lifecycle
//! decides each change (`domain::lifecycle`); these check that both stores hold it the same way.

use intervention_tests::receipts;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use human_intervention::domain::continuation::{Continuation, Outcome, Verdict};
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::ledger::{verify, verify_after, Checkpoint, EntryKind};
use human_intervention::domain::lifecycle::{self, Settlement};
use human_intervention::domain::message::{self, Channel, Message, MessageKind, MESSAGE_CLAIM_MILLIS};
use human_intervention::domain::model::{InterventionState, ReminderRefusal, TimeoutRefusal};
use human_intervention::domain::rejection::Rejection;
use human_intervention::domain::task::{TaskStatus, TaskToken, WaitKind, TASK_CLAIM_MILLIS};
use human_intervention::domain::time::{Clock, Timestamp};
use human_intervention::ports::store::{ActionOutcome, CancelOutcome, ReminderOutcome, StoreError, TimeoutOutcome};
use human_intervention::service::{
    deliver_task, export_log, Acted, Attached, Cancellation, ResendTo, SubmitResult, View, CANCELLED_ERROR,
};
use intervention_tests::suite::{accepted, race_repeats, Bench, START};
use intervention_tests::{design_example, on_both_stores};
use serde_json::{json, Value};

/// The example's hour: its links expire then.
const EXPIRY: i64 = START + 3_600_000;

/// Half the example's hour: the reminder at 50 % of the expiry.
const REMIND_AT: i64 = START + 1_800_000;

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

/// The example with the named reviewers `ids` (each named `Name <id>`), one use each.
fn named(ids: &[&str]) -> Value {
    let mut value = input();
    value.as_object_mut().expect("an object").remove("maxUrlUses");
    value["reviewers"] = Value::Array(ids.iter().map(|id| json!({"id": id, "name": format!("Name {id}")})).collect());
    value
}

/// [`named`] reviewers deciding by `approvals` approvals.
fn quorum(ids: &[&str], approvals: u32) -> Value {
    let mut value = named(ids);
    value["quorum"] = json!({"approvals": approvals, "field": "decision", "approve": "approve", "reject": "reject"});
    value
}

/// `value` reminding `to` at half the expiry.
fn remind(mut value: Value, to: &[&str]) -> Value {
    value["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
    value
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}

on_both_stores!(
    an_operator_expiry_queues_the_timeout_once_with_its_entry_and_the_waiting_run_gets_it,
    an_operator_action_decided_before_another_decision_changes_nothing_and_appends_nothing,
    a_resend_and_an_extension_record_their_messages_in_the_same_write_and_the_links_keep_their_own_expiry,
    a_durable_functions_callback_gets_the_first_answer_once_on_its_own_service_and_a_closed_one_is_gone,
    an_operator_cancel_fails_the_waiting_run_at_once_with_its_named_error_and_a_run_that_ended_is_not_told,
    messages_are_recorded_with_their_intervention_claimed_by_one_sender_and_slotted_as_the_domain_says,
    a_reminder_reaches_only_the_reminded_reviewers_who_have_not_answered_on_their_channels,
    a_reminder_decided_before_the_waiting_run_went_is_refused_after,
    a_delivery_claim_is_free_again_at_exactly_its_hold,
    continuations_list_the_answers_first_and_the_reminder_last,
    a_waiting_run_gets_the_first_answer_whichever_continuation_the_publisher_holds,
    a_cancel_decided_on_the_stored_item_is_too_late_after_an_answer,
    a_reminder_recorded_just_before_a_cancel_is_parked_not_sent,
    every_decision_appends_its_chain_in_the_same_write_and_a_refused_one_appends_nothing,
    a_cancel_or_timeout_decided_before_a_vote_was_counted_is_stale_and_appends_nothing,
    two_of_three_approvals_queue_one_approved_continuation_listing_both_and_the_third_link_is_decided,
    the_requesters_link_is_not_issued_and_a_signed_one_is_not_found,
    an_unanswered_link_queues_one_timed_out_continuation_with_the_defaults,
    a_reminder_never_fires_for_a_completed_cancelled_expired_or_timed_out_intervention,
    a_reminder_at_half_the_expiry_is_queued_once_for_a_pending_intervention_with_the_pending_links,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_reminder_racing_the_last_answer_never_comes_after_the_completion,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_reviewers_link_accepts_one_submission_from_that_reviewer_and_never_counts_as_another,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_last_votes_decide_exactly_once,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_submission_and_the_timeout_never_both_win_and_never_neither,
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
    let outcome = b.store.remind(&read, &reminder, &[], &change).await.unwrap();
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
    let delivered = deliver_task(b.store.as_ref(), b.tasks.as_ref(), receipts(), later, b.clock.now()).await.unwrap();
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

/// 2 of 3: the first approval queues nothing and the page counts it, the second queues the one `approved`
/// continuation listing both votes, and the third link answers the decision, queueing nothing; decided,
/// the cancel is too late and the timeout does nothing.
async fn two_of_three_approvals_queue_one_approved_continuation_listing_both_and_the_third_link_is_decided(b: Bench) {
    let (id, tokens) = b.create(&quorum(&["ann", "bob", "cy"], 2)).await;
    let View::Live(page) = b.view(&tokens["bob"]).await else { panic!("{}: live", b.name) };
    assert_eq!(page.intervention.tally.approvals, 0, "{}", b.name);
    assert!(accepted(&b.vote(&tokens["ann"], "approve", "a1").await), "{}", b.name);
    assert!(
        b.store.continuations(&id).await.unwrap().is_empty(),
        "{}: a vote that does not decide queues nothing",
        b.name
    );
    assert!(b.collect().await.is_empty(), "{}: nothing reaches the queue", b.name);
    let View::Live(page) = b.view(&tokens["bob"]).await else { panic!("{}: live", b.name) };
    assert_eq!(page.intervention.tally.approvals, 1, "{}: the page can say 1 of 2 approvals so far", b.name);
    assert_eq!(page.intervention.quorum.as_ref().map(|q| q.approvals), Some(2), "{}", b.name);
    assert!(accepted(&b.vote(&tokens["bob"], "approve", "b1").await), "{}", b.name);
    let continuations = b.store.continuations(&id).await.unwrap();
    assert_eq!(continuations.len(), 1, "{}", b.name);
    let queued = b.collect().await;
    assert_eq!(queued.len(), 1, "{}: one continuation reaches the queue", b.name);
    assert_eq!(queued[0].id, continuations[0].id, "{}", b.name);
    let message = serde_json::to_value(&queued[0]).unwrap();
    assert_eq!(message["outcome"], json!("approved"), "{}", b.name);
    assert_eq!(message["id"], json!(format!("{id}:b1")), "{}", b.name);
    assert_eq!(message["reviewerId"], json!("bob"), "{}", b.name);
    assert_eq!(message["context"]["decision"], json!("approve"), "{}", b.name);
    let votes = message["votes"].as_array().unwrap();
    assert_eq!(
        votes.iter().map(|v| (v["reviewerId"].clone(), v["decision"].clone())).collect::<Vec<_>>(),
        [(json!("ann"), json!("approve")), (json!("bob"), json!("approve"))],
        "{}",
        b.name
    );
    assert_eq!(votes[0]["submittedAt"], json!("2026-11-25T10:00:01.000Z"), "{}", b.name);
    assert_eq!(votes[1]["input"]["decision"], json!("approve"), "{}", b.name);
    // The third link answers the decision (410 already_decided over HTTP), and never accepts.
    let decided = Rejection::Decided(Verdict::Approved);
    assert_eq!((decided.status(), decided.code()), (410, "already_decided"));
    assert_eq!(decided.message(), "This request was already decided: approved.");
    assert!(matches!(b.view(&tokens["cy"]).await, View::Rejected(r) if r == decided), "{}", b.name);
    let third = b.vote(&tokens["cy"], "reject", "c1").await;
    assert!(matches!(third, SubmitResult::Rejected(r) if r == decided), "{}: {third:?}", b.name);
    let again = b.vote(&tokens["ann"], "reject", "a2").await;
    assert!(matches!(again, SubmitResult::Rejected(r) if r == decided), "{}: {again:?}", b.name);
    let repeat = b.post(&tokens["bob"], "decision=approve&_submissionId=b1").await;
    assert!(accepted(&repeat), "{}: a repeat, as the first", b.name);
    assert_eq!(b.store.continuations(&id).await.unwrap().len(), 1, "{}: nothing more was queued", b.name);
    assert!(b.collect().await.is_empty(), "{}: the third link queued nothing", b.name);
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["state"], json!("completed"), "{}", b.name);
    assert_eq!(record["outcome"], json!("approved"), "{}", b.name);
    assert_eq!(record["continuationIds"], json!([format!("{id}:b1")]), "{}", b.name);
    assert_eq!(record["submissions"].as_array().unwrap().len(), 2, "{}", b.name);
    // Decided: the cancel is too late, the timeout does nothing.
    assert!(matches!(b.service.cancel(&id).await.unwrap(), Cancellation::TooLate { .. }), "{}", b.name);
    b.clock.set(at(EXPIRY));
    let timeout = b.service.fire_timeout(&id).await.unwrap();
    assert_eq!(timeout, TimeoutOutcome::Refused(TimeoutRefusal::Answered), "{}", b.name);
}

/// No self-approval: the requester's link is not issued and one signed for them is not found (never a
/// vote); the other two decide 2 of 2, a reject deciding `rejected` and two approvals `approved`.
async fn the_requesters_link_is_not_issued_and_a_signed_one_is_not_found(b: Bench) {
    for (cys, outcome) in [("reject", Outcome::Rejected), ("approve", Outcome::Approved)] {
        let mut input = quorum(&["ann", "bob", "cy"], 2);
        input["requestedBy"] = json!("bob");
        let created = b.created(&input).await;
        let (id, tokens) = (created.id, &created.tokens);
        let keys: Vec<&String> = tokens.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ann", "cy"], "{}: the map omits the requester", b.name);
        // Bob's index (1), signed with the right key, was never issued: Not found, and never a vote.
        let bobs = Value::String(b.keys.sign_for_reviewer(&id, created.expires, 1));
        let view = b.view(&bobs).await;
        assert!(matches!(view, View::Rejected(Rejection::NotFound)), "{}", b.name);
        let vote = b.vote(&bobs, "approve", "b1").await;
        assert!(matches!(vote, SubmitResult::Rejected(Rejection::NotFound)), "{}: {vote:?}", b.name);
        // Ann and Cy are the voters: 2 of 2.
        assert!(accepted(&b.vote(&tokens["ann"], "approve", "a1").await), "{}", b.name);
        assert!(accepted(&b.vote(&tokens["cy"], cys, "c1").await), "{}", b.name);
        let continuations = b.store.continuations(&id).await.unwrap();
        assert_eq!(continuations.len(), 1, "{}", b.name);
        assert_eq!(continuations[0].outcome, outcome, "{}", b.name);
        let queued = b.collect().await;
        assert_eq!(queued.iter().map(|c| c.outcome).collect::<Vec<_>>(), [outcome], "{}", b.name);
        let record = b.service.record(&id).await.unwrap().unwrap();
        assert_eq!((record.max_uses, record.state), (2, InterventionState::Completed), "{}", b.name);
    }
}

/// An unanswered link times out at its expiry (not a millisecond before), once, with the defaults: the
/// queue gets one `timedOut` continuation, counted like a submission, and the link is expired.
async fn an_unanswered_link_queues_one_timed_out_continuation_with_the_defaults(b: Bench) {
    let (id, token) = b.create(&input()).await;
    b.clock.set(at(EXPIRY - 1));
    assert_eq!(
        b.service.fire_timeout(&id).await.unwrap(),
        TimeoutOutcome::Refused(TimeoutRefusal::NotDue),
        "{}",
        b.name
    );
    let early = b.view(&token).await;
    assert!(matches!(early, View::Live(_)), "{}: an early timer leaves the link working", b.name);
    b.clock.set(at(EXPIRY));
    assert_eq!(b.service.fire_timeout(&id).await.unwrap(), TimeoutOutcome::Queued, "{}", b.name);
    assert_eq!(
        b.service.fire_timeout(&id).await.unwrap(),
        TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut),
        "{}: a second invocation queues nothing",
        b.name
    );
    let queued = b.collect().await;
    assert_eq!(queued.len(), 1, "{}", b.name);
    let message = serde_json::to_value(&queued[0]).unwrap();
    assert_eq!(message["id"], json!(format!("{id}:timeout")), "{}", b.name);
    assert_eq!(message["outcome"], json!("timedOut"), "{}", b.name);
    assert_eq!(message["ruleSetId"], json!("refund-timeout"), "{}", b.name);
    assert_eq!(message["correlationId"], json!("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"), "{}", b.name);
    assert_eq!(message["environmentId"], json!("prod-eu"), "{}", b.name);
    assert!(message.get("submissionId").is_none(), "{}", b.name);
    assert_eq!(message["countsAgainstAllowance"], json!(true), "{}", b.name);
    assert_eq!(message["context"]["decision"], json!("reject"), "{}", b.name);
    assert_eq!(message["context"]["order.id"], json!("A-1001"), "{}", b.name);
    let used = b.store.allowance_used("prod-eu", "2026-11").await.unwrap();
    assert_eq!(used, 1, "{}: counted like a submission", b.name);
    let view = b.view(&token).await;
    assert!(matches!(view, View::Rejected(Rejection::Expired)), "{}: the link has expired", b.name);
    let late = b.post(&token, "decision=approve&_submissionId=late").await;
    assert!(matches!(late, SubmitResult::Rejected(Rejection::Expired)), "{}: {late:?}", b.name);
    let record = b.service.record(&id).await.unwrap().unwrap();
    assert_eq!(record.state, InterventionState::TimedOut, "{}", b.name);
    assert_eq!(record.continuation_ids, vec![format!("{id}:timeout")], "{}", b.name);
    assert_eq!(
        b.service.fire_timeout(&id).await.unwrap(),
        TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut),
        "{}: the timeout function invoked again queues nothing",
        b.name
    );
    assert!(b.collect().await.is_empty(), "{}: no second continuation", b.name);
}

/// A reminder is refused by name for an intervention decided, answered, with nobody reminded pending,
/// cancelled, expired (at its expiry and after), timed out, without `remind`, or never stored; the
/// decision, the last use and the cancel remove its timer; no reminder is ever recorded.
async fn a_reminder_never_fires_for_a_completed_cancelled_expired_or_timed_out_intervention(b: Bench) {
    // A quorum decided.
    let (decided, tokens) = b.create(&remind(quorum(&["ann", "bob", "cy"], 2), &["cy"])).await;
    assert!(accepted(&b.vote(&tokens["ann"], "approve", "a1").await), "{}", b.name);
    assert!(accepted(&b.vote(&tokens["bob"], "approve", "b1").await), "{}", b.name);
    assert_eq!(b.scheduler.reminder_at(&decided), None, "{}: the decision removes the reminder's timer", b.name);
    // A single reviewer's one use answered.
    let (answered, tokens) = b.create(&remind(named(&["ann"]), &["ann"])).await;
    assert!(accepted(&b.post(&tokens["ann"], "decision=approve").await), "{}", b.name);
    assert_eq!(b.scheduler.reminder_at(&answered), None, "{}: the last use removes it", b.name);
    // Every reminded reviewer answered, the others have not.
    let (nobody, tokens) = b.create(&remind(named(&["ann", "bob"]), &["ann"])).await;
    assert!(accepted(&b.post(&tokens["ann"], "decision=approve").await), "{}", b.name);
    // Cancelled.
    let (cancelled, _) = b.create(&remind(named(&["ann", "bob"]), &["bob"])).await;
    assert_eq!(b.service.cancel(&cancelled).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.scheduler.reminder_at(&cancelled), None, "{}: the cancel removes it", b.name);
    // Expired (the timer fires late), and timed out.
    let expired = b.created(&remind(named(&["ann", "bob"]), &["bob"])).await;
    let (expired, expires) = (expired.id, expired.expires);
    let (timed_out, _) = b.create(&remind(named(&["ann", "bob"]), &["bob"])).await;
    // Without remind.
    let (unset, _) = b.create(&named(&["ann", "bob"])).await;
    let fire = |id: InterventionId| {
        let service = b.service.clone();
        async move { service.fire_reminder(&id).await.unwrap() }
    };
    let refused = ReminderOutcome::Refused;
    // Due at exactly half the expiry.
    b.clock.set(at(REMIND_AT));
    assert_eq!(fire(decided).await, refused(ReminderRefusal::Completed), "{}", b.name);
    assert_eq!(fire(answered).await, refused(ReminderRefusal::Completed), "{}", b.name);
    assert_eq!(fire(cancelled).await, refused(ReminderRefusal::Cancelled), "{}", b.name);
    // Every reminder is due (the votes above moved the clock on a few seconds).
    b.clock.set(at(REMIND_AT + 60_000));
    assert_eq!(fire(decided).await, refused(ReminderRefusal::Completed), "{}", b.name);
    assert_eq!(fire(answered).await, refused(ReminderRefusal::Completed), "{}", b.name);
    assert_eq!(fire(nobody).await, refused(ReminderRefusal::NobodyPending), "{}", b.name);
    assert_eq!(fire(cancelled).await, refused(ReminderRefusal::Cancelled), "{}", b.name);
    assert_eq!(fire(unset).await, refused(ReminderRefusal::NoReminder), "{}", b.name);
    b.clock.set(expires);
    assert_eq!(fire(expired).await, refused(ReminderRefusal::Expired), "{}: at its expiry", b.name);
    b.clock.set(at(EXPIRY + 60_000));
    assert_eq!(b.service.fire_timeout(&timed_out).await.unwrap(), TimeoutOutcome::Queued, "{}", b.name);
    assert_eq!(fire(expired).await, refused(ReminderRefusal::Expired), "{}", b.name);
    assert_eq!(fire(timed_out).await, refused(ReminderRefusal::TimedOut), "{}", b.name);
    assert_eq!(fire(InterventionId::random().unwrap()).await, refused(ReminderRefusal::NotStored), "{}", b.name);
    let outbox = b.store.unpublished(100, b.clock.now()).await.unwrap();
    assert!(outbox.iter().all(|c| c.outcome != Outcome::Reminder), "{}: {outbox:?}", b.name);
    for id in [decided, answered, nobody, cancelled, expired, timed_out, unset] {
        let continuations = b.store.continuations(&id).await.unwrap();
        assert!(continuations.iter().all(|c| !c.id.ends_with(":reminder")), "{}: {continuations:?}", b.name);
    }
}

/// At half the expiry (not a millisecond before) the reminder is queued once, listing the reminded
/// reviewers who have not answered with their own links; it is no resumed run (no allowance), the links
/// keep working, and the decision is queued after it as before.
async fn a_reminder_at_half_the_expiry_is_queued_once_for_a_pending_intervention_with_the_pending_links(b: Bench) {
    let created = b.created(&remind(quorum(&["ann", "bob", "cy"], 2), &["ann", "bob"])).await;
    let (id, tokens) = (created.id, &created.tokens);
    assert_eq!(b.scheduler.reminder_at(&id), Some(at(REMIND_AT)), "{}: a second timer", b.name);
    assert!(accepted(&b.vote(&tokens["ann"], "approve", "a1").await), "{}", b.name);
    b.clock.set(at(REMIND_AT - 1));
    let early = b.service.fire_reminder(&id).await.unwrap();
    assert_eq!(early, ReminderOutcome::Refused(ReminderRefusal::NotDue), "{}", b.name);
    b.clock.set(at(REMIND_AT));
    assert_eq!(b.service.fire_reminder(&id).await.unwrap(), ReminderOutcome::Queued, "{}", b.name);
    assert_eq!(
        b.service.fire_reminder(&id).await.unwrap(),
        ReminderOutcome::Refused(ReminderRefusal::AlreadyReminded),
        "{}: a second firing queues nothing",
        b.name
    );
    let queued = b.collect().await;
    assert_eq!(queued.len(), 1, "{}", b.name);
    let message = serde_json::to_value(&queued[0]).unwrap();
    assert_eq!(message["id"], json!(format!("{id}:reminder")), "{}", b.name);
    assert_eq!(message["outcome"], json!("reminder"), "{}", b.name);
    assert_eq!(message["ruleSetId"], json!("refund-remind"), "{}", b.name);
    assert_eq!(message["countsAgainstAllowance"], json!(false), "{}", b.name);
    assert!(message.get("submissionId").is_none() && message.get("votes").is_none(), "{}", b.name);
    assert_eq!(
        message["pendingReviewers"],
        json!([{"reviewerId": "bob", "name": "Name bob", "link": created.links["bob"]}]),
        "{}: only the reminded reviewers who have not answered, with their own links",
        b.name
    );
    assert_eq!(message["context"]["order.id"], json!("A-1001"), "{}", b.name);
    let used = b.store.allowance_used("prod-eu", "2026-11").await.unwrap();
    assert_eq!(used, 0, "{}: a reminder is not a resumed run", b.name);
    // The link still works, and the decision is queued as before.
    assert!(accepted(&b.vote(&tokens["bob"], "approve", "b1").await), "{}", b.name);
    let outcomes: Vec<_> = b.store.continuations(&id).await.unwrap().into_iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [Outcome::Approved, Outcome::Reminder], "{}: answers first, the reminder last", b.name);
    let decided = b.collect().await;
    assert_eq!(decided.iter().map(|c| c.outcome).collect::<Vec<_>>(), [Outcome::Approved], "{}", b.name);
    let record = b.service.record(&id).await.unwrap().unwrap();
    assert_eq!(record.state, InterventionState::Completed, "{}", b.name);
    let mut ids = record.continuation_ids.clone();
    ids.sort();
    assert_eq!(ids, [format!("{id}:b1"), format!("{id}:reminder")], "{}", b.name);
}

/// The reminder fired at the instant the last answer comes (a 2-of-2 quorum's second vote, or a single
/// reviewer's one use), many rounds (200 in memory, `5 × RACE_REPEATS` on DynamoDB): either the reminder
/// is recorded first (and lists the reviewer who then answered) or it is refused as completed; never after
/// the completion, never both claiming the end.
async fn a_reminder_racing_the_last_answer_never_comes_after_the_completion(b: Bench) {
    let rounds = if b.name == "memory" { 200 } else { 5 * race_repeats() };
    let b = Arc::new(b);
    let (mut reminded, mut not) = (0, 0);
    for round in 0..rounds {
        b.clock.set(at(START));
        let quorum_round = round % 2 == 0;
        let value = if quorum_round {
            remind(quorum(&["ann", "bob"], 2), &["ann", "bob"])
        } else {
            remind(named(&["bob"]), &["bob"])
        };
        let (id, tokens) = b.create(&value).await;
        if quorum_round {
            assert!(accepted(&b.vote(&tokens["ann"], "approve", "a1").await), "{}", b.name);
        }
        b.clock.set(at(REMIND_AT));
        // Both start at once, behind a barrier, spawned in either order.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (g, token, w) = (b.clone(), tokens["bob"].clone(), barrier.clone());
        let answer = async move {
            w.wait().await;
            g.post(&token, "decision=approve&_submissionId=b1").await
        };
        let (g, w) = (b.clone(), barrier.clone());
        let reminder = async move {
            w.wait().await;
            g.service.fire_reminder(&id).await.unwrap()
        };
        let (last, reminder) = if round % 4 < 2 {
            let last = tokio::spawn(answer);
            (last, tokio::spawn(reminder))
        } else {
            let reminder = tokio::spawn(reminder);
            (tokio::spawn(answer), reminder)
        };
        assert!(accepted(&last.await.unwrap()), "{} round {round}", b.name);
        let outcome = reminder.await.unwrap();
        let continuations = b.store.continuations(&id).await.unwrap();
        let completion = if quorum_round { Outcome::Approved } else { Outcome::Submitted };
        let ends: Vec<&Continuation> = continuations.iter().filter(|c| !c.id.ends_with(":reminder")).collect();
        assert_eq!(ends.len(), 1, "{} round {round}: one completion", b.name);
        assert_eq!(ends[0].outcome, completion, "{} round {round}", b.name);
        let recorded_reminders = continuations.iter().filter(|c| c.id.ends_with(":reminder")).count();
        match outcome {
            ReminderOutcome::Queued => {
                reminded += 1;
                let outcomes: Vec<_> = continuations.iter().map(|c| c.outcome).collect();
                assert_eq!(outcomes, [completion, Outcome::Reminder], "{} round {round}", b.name);
                // Recorded on the condition that the uses were those before the last answer.
                let pending = continuations[1].pending_reviewers.as_ref().unwrap();
                let who: Vec<&str> = pending.iter().map(|p| p.reviewer_id.as_str()).collect();
                assert_eq!(who, ["bob"], "{} round {round}", b.name);
            }
            ReminderOutcome::Refused(ReminderRefusal::Completed) => {
                not += 1;
                assert_eq!(continuations.len(), 1, "{} round {round}: no reminder after the completion", b.name);
                assert_eq!(continuations[0].outcome, completion, "{} round {round}", b.name);
            }
            other => panic!("{} round {round}: {other:?}", b.name),
        }
        let stored = b.store.get(&id).await.unwrap().expect("stored");
        assert_eq!(stored.reminded_at.is_some(), recorded_reminders == 1, "{} round {round}", b.name);
    }
    assert_eq!(reminded + not, rounds, "{}", b.name);
    eprintln!("{}: {rounds} rounds, reminder first in {reminded}, completion first in {not}", b.name);
}

/// How `posts` concurrent posts on one link, each with its own submission id `<prefix>-<i>`, were
/// answered: accepted or used up (anything else fails), and the submission ids accepted.
async fn post_concurrently(b: &Arc<Bench>, token: &Value, posts: usize, prefix: &str) -> (usize, BTreeSet<String>) {
    let requests = (0..posts).map(|i| {
        let (b, token, sid) = (b.clone(), token.clone(), format!("{prefix}-{i}"));
        tokio::spawn(async move {
            let result = b.post(&token, &format!("decision=approve&_submissionId={sid}")).await;
            (result, sid)
        })
    });
    let (mut used_up, mut accepted_ids) = (0, BTreeSet::new());
    for joined in futures::future::join_all(requests).await {
        match joined.expect("a task") {
            (SubmitResult::Accepted { .. }, sid) => {
                accepted_ids.insert(sid);
            }
            (SubmitResult::Rejected(Rejection::UsedUp), _) => used_up += 1,
            (other, sid) => panic!("{}: {sid}: {other:?}", b.name),
        }
    }
    (used_up, accepted_ids)
}

/// A reviewer's link accepts one submission from that reviewer: a repeat is answered as the first, another
/// is used up, another reviewer's submission id on it is a conflict, and the record and the continuations
/// say who submitted. 40 concurrent posts on each of two reviewers' links at once accept exactly one per
/// reviewer (uses = recorded submissions = continuations), and the third reviewer's link stays live.
async fn a_reviewers_link_accepts_one_submission_from_that_reviewer_and_never_counts_as_another(b: Bench) {
    let (id, tokens) = b.create(&named(&["ann", "bob", "cy"])).await;
    let (ann, bob) = (&tokens["ann"], &tokens["bob"]);
    assert!(accepted(&b.post(ann, "decision=approve&_submissionId=a1").await), "{}", b.name);
    // A repeat of the same submission is answered as the first; another one is refused.
    assert!(accepted(&b.post(ann, "decision=approve&_submissionId=a1").await), "{}: the double click", b.name);
    let second = b.post(ann, "decision=reject&_submissionId=a2").await;
    assert!(matches!(second, SubmitResult::Rejected(Rejection::UsedUp)), "{}: {second:?}", b.name);
    let third = b.post(ann, "decision=reject").await;
    assert!(matches!(third, SubmitResult::Rejected(Rejection::UsedUp)), "{}: {third:?}", b.name);
    let view = b.view(ann).await;
    assert!(matches!(view, View::Rejected(Rejection::UsedUp)), "{}", b.name);
    // Ann's submission id on Bob's live link is not Bob's: a conflict, and Bob's link stays live.
    let borrowed = b.post(bob, "decision=approve&_submissionId=a1").await;
    assert!(matches!(borrowed, SubmitResult::Conflict), "{}: {borrowed:?}", b.name);
    assert!(matches!(b.view(bob).await, View::Live(_)), "{}", b.name);
    b.clock.advance(1_000);
    assert!(accepted(&b.post(bob, "decision=reject&_submissionId=b1").await), "{}", b.name);
    // Bob's used-up link does not answer Ann's submission as Bob's success.
    let dead = b.post(bob, "decision=approve&_submissionId=a1").await;
    assert!(matches!(dead, SubmitResult::Rejected(Rejection::UsedUp)), "{}: {dead:?}", b.name);
    let cys = b.view(&tokens["cy"]).await;
    assert!(matches!(cys, View::Live(_)), "{}: Cy's link is untouched", b.name);

    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["uses"], json!(2), "{}", b.name);
    assert_eq!(record["state"], json!("pending"), "{}", b.name);
    let submissions = record["submissions"].as_array().unwrap();
    assert_eq!(
        submissions.iter().map(|s| (s["reviewerId"].clone(), s["input"]["decision"].clone())).collect::<Vec<_>>(),
        [(json!("ann"), json!("approve")), (json!("bob"), json!("reject"))],
        "{}",
        b.name
    );
    assert_eq!(submissions[0]["submittedAt"], json!("2026-11-25T10:00:00.000Z"), "{}", b.name);
    assert_eq!(submissions[1]["submittedAt"], json!("2026-11-25T10:00:01.000Z"), "{}", b.name);
    let continuations = b.store.continuations(&id).await.unwrap();
    let who: Vec<Option<&str>> = continuations.iter().map(|c| c.reviewer_id.as_deref()).collect();
    assert_eq!(who, [Some("ann"), Some("bob")], "{}", b.name);
    assert!(accepted(&b.post(&tokens["cy"], "decision=approve").await), "{}", b.name);
    let record = b.service.record(&id).await.unwrap().unwrap();
    assert_eq!(record.state, InterventionState::Completed, "{}: every reviewer answered", b.name);
    assert_eq!(b.collect().await.len(), 3, "{}", b.name);

    // Concurrent posts on two reviewers' links at once.
    let b = Arc::new(b);
    let mut input = named(&[]);
    input["reviewers"] = json!([
        {"id": "ann@example.com", "name": "Ann"},
        {"id": "bob@example.com", "name": "Bob"},
        {"id": "cy@example.com", "name": "Cy"}
    ]);
    let (id, tokens) = b.create(&input).await;
    assert_eq!(tokens.as_object().unwrap().len(), 3, "{}", b.name);
    let ((ann_used_up, ann_accepted), (bob_used_up, bob_accepted)) = tokio::join!(
        post_concurrently(&b, &tokens["ann@example.com"], 40, "ann"),
        post_concurrently(&b, &tokens["bob@example.com"], 40, "bob")
    );
    assert_eq!((ann_accepted.len(), ann_used_up), (1, 39), "{}: Ann's link: one accepted, the rest used up", b.name);
    assert_eq!((bob_accepted.len(), bob_used_up), (1, 39), "{}: Bob's link: one accepted, the rest used up", b.name);
    let continuations = b.collect().await;
    let uses = b.store.get(&id).await.unwrap().expect("stored").uses;
    let recorded = b.store.submissions(&id).await.unwrap().len();
    let distinct: BTreeSet<&str> =
        continuations.iter().filter(|c| c.intervention_id == id.to_string()).map(|c| c.id.as_str()).collect();
    assert_eq!((uses, recorded, distinct.len()), (2, 2, 2), "{}: uses, records, continuations", b.name);
    assert_eq!(continuations.len(), 2, "{}", b.name);
    let by_reviewer: BTreeMap<Option<String>, Option<String>> =
        continuations.iter().map(|c| (c.reviewer_id.clone(), c.submission_id.clone())).collect();
    assert_eq!(
        by_reviewer,
        BTreeMap::from([
            (Some("ann@example.com".to_owned()), ann_accepted.first().cloned()),
            (Some("bob@example.com".to_owned()), bob_accepted.first().cloned()),
        ]),
        "{}",
        b.name
    );
    // The accepted one again is answered as the first; Cy's link is untouched and is Cy's.
    let again = format!("decision=approve&_submissionId={}", ann_accepted.first().expect("one"));
    assert!(accepted(&b.post(&tokens["ann@example.com"], &again).await), "{}", b.name);
    let View::Live(page) = b.view(&tokens["cy@example.com"]).await else { panic!("{}: Cy's link is live", b.name) };
    let reviewer = page.reviewer.map(|i| page.intervention.reviewers[i].name.clone());
    assert_eq!(reviewer.as_deref(), Some("Cy"), "{}", b.name);
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    let mut who: Vec<&str> =
        record["submissions"].as_array().unwrap().iter().filter_map(|s| s["reviewerId"].as_str()).collect();
    who.sort();
    assert_eq!(who, ["ann@example.com", "bob@example.com"], "{}", b.name);
    assert_eq!(
        (record["uses"].clone(), record["maxUses"].clone(), record["state"].clone()),
        (json!(2), json!(3), json!("pending")),
        "{}",
        b.name
    );
    assert!(b.collect().await.is_empty(), "{}: nothing more was queued", b.name);
}

/// Every reviewer of a 3-of-5 quorum votes at the same instant, many rounds (50 in memory,
/// `10 × RACE_REPEATS` on DynamoDB), with a mix of votes that varies by round: each vote is accepted or
/// told the request was decided, exactly one continuation per intervention, its outcome the one the
/// recorded votes give, every accepted vote recorded and listed.
async fn concurrent_last_votes_decide_exactly_once(b: Bench) {
    let rounds = if b.name == "memory" { 50 } else { 10 * race_repeats() };
    let b = Arc::new(b);
    let ids = ["r0", "r1", "r2", "r3", "r4"];
    let mut outcomes = BTreeMap::new();
    let mut interventions = BTreeSet::new();
    for round in 0..rounds {
        let (id, tokens) = b.create(&quorum(&ids, 3)).await;
        let decision = |i: usize| match round % 2 {
            0 if (i + round) % 3 == 0 => "reject",
            0 => "approve",
            _ if round % 5 == 0 || (i + round) % 2 == 0 => "approve",
            _ => "reject",
        };
        let posts = ids.iter().enumerate().map(|(i, who)| {
            let (b, token, decision) = (b.clone(), tokens[*who].clone(), decision(i));
            tokio::spawn(async move { b.post(&token, &format!("decision={decision}&_submissionId=s{i}")).await })
        });
        let mut accepted_votes = 0;
        for result in futures::future::join_all(posts).await {
            match result.expect("a task") {
                SubmitResult::Accepted { .. } => accepted_votes += 1,
                SubmitResult::Rejected(Rejection::Decided(_)) => {}
                other => panic!("{} round {round}: {other:?}", b.name),
            }
        }
        let continuations = b.store.continuations(&id).await.unwrap();
        assert_eq!(continuations.len(), 1, "{} round {round}: one continuation", b.name);
        let votes = continuations[0].votes.as_ref().unwrap();
        let approvals = votes.iter().filter(|v| v.decision == "approve").count();
        match continuations[0].outcome {
            Outcome::Approved => assert_eq!(approvals, 3, "{} round {round}", b.name),
            Outcome::Rejected => assert_eq!(votes.len() - approvals, 3, "{} round {round}: {votes:?}", b.name),
            other => panic!("{} round {round}: {other:?}", b.name),
        }
        let stored = b.store.submissions(&id).await.unwrap().len();
        assert_eq!(stored, votes.len(), "{} round {round}: the continuation lists every recorded vote", b.name);
        assert_eq!(accepted_votes, stored, "{} round {round}: accepted = recorded", b.name);
        *outcomes.entry(format!("{:?}", continuations[0].outcome)).or_insert(0) += 1;
        interventions.insert(id.to_string());
    }
    let queued = b.collect().await;
    let per_intervention: BTreeMap<&str, usize> = queued.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.intervention_id.as_str()).or_insert(0) += 1;
        m
    });
    assert_eq!(per_intervention.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(), interventions, "{}", b.name);
    assert!(per_intervention.values().all(|n| *n == 1), "{}: exactly one each: {per_intervention:?}", b.name);
    eprintln!("{}: {rounds} quorum rounds: {outcomes:?}", b.name);
}

/// 200 submissions fired across the expiry instant while the timeout fires in the same window, 20 rounds:
/// a submission and the timeout never both win and never neither; every accepted submission is recorded.
async fn a_submission_and_the_timeout_never_both_win_and_never_neither(b: Bench) {
    let b = Arc::new(b);
    let mut timeout_won = 0;
    for round in 0..20usize {
        b.clock.set(at(START));
        let mut value = input();
        value["maxUrlUses"] = json!(5);
        let (id, token) = b.create(&value).await;
        b.clock.set(at(EXPIRY - 100));
        let fire_at = (round * 37) % 200;
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (b, token) = (b.clone(), token.clone());
                tokio::spawn(async move {
                    if i == fire_at {
                        b.clock.set(at(EXPIRY));
                        b.service.fire_timeout(&id).await.unwrap();
                    }
                    b.clock.advance(1);
                    b.post(&token, &format!("decision=approve&_submissionId=t{i}")).await
                })
            })
            .collect();
        let mut accepted_posts = 0;
        for task in tasks {
            match task.await.unwrap() {
                SubmitResult::Accepted { .. } => accepted_posts += 1,
                SubmitResult::Rejected(_) => {}
                other => panic!("{} round {round}: unexpected {other:?}", b.name),
            }
        }
        // The timer fires (again) after the window, as a retried timer would.
        b.clock.set(at(EXPIRY + 1000));
        b.service.fire_timeout(&id).await.unwrap();
        let outbox = b.store.unpublished(1000, b.clock.now()).await.unwrap();
        let mine = |outcome: Outcome| {
            outbox.iter().filter(|c| c.intervention_id == id.to_string() && c.outcome == outcome).count()
        };
        let (submitted, timed_out) = (mine(Outcome::Submitted), mine(Outcome::TimedOut));
        assert!(
            (submitted >= 1 && timed_out == 0) || (submitted == 0 && timed_out == 1),
            "{} round {round}: {submitted} submitted, {timed_out} timed out",
            b.name
        );
        let record = b.service.record(&id).await.unwrap().unwrap();
        assert_eq!(record.submissions.len(), accepted_posts, "{} round {round}", b.name);
        assert_eq!(submitted, accepted_posts, "{} round {round}", b.name);
        let timeouts = record.continuation_ids.iter().filter(|c| c.ends_with(":timeout")).count();
        assert_eq!(timeouts, timed_out, "{} round {round}", b.name);
        timeout_won += timed_out;
    }
    eprintln!("{}: the timeout won {timeout_won} of 20 rounds; submissions won the rest", b.name);
    assert!(!b.store.unpublished(1000, b.clock.now()).await.unwrap().is_empty(), "{}", b.name);
}

/// Defect: a reminder recorded a moment before a cancel was still queued; the publisher parks it.
async fn a_reminder_recorded_just_before_a_cancel_is_parked_not_sent(b: Bench) {
    let (id, _) = b.create(&reviewers_input(2, &[0, 1])).await;
    b.clock.advance(31 * 60_000);
    assert_eq!(b.service.fire_reminder(&id).await.unwrap(), ReminderOutcome::Queued, "{}", b.name);
    assert_eq!(
        b.service.cancel(&id).await.unwrap(),
        human_intervention::service::Cancellation::Cancelled,
        "{}",
        b.name
    );
    b.publish().await;
    assert!(b.queue.messages().is_empty(), "{}: nothing queued after the cancel", b.name);
    let left = b.store.unpublished(10, b.clock.now()).await.unwrap();
    assert!(left.is_empty(), "{}: the reminder left the outbox (parked)", b.name);
}

/// The kinds on each chain of the decision log (an intervention's, or a lane of it), by `seq`, as the
/// store lists them.
async fn chains(b: &Bench) -> BTreeMap<(InterventionId, Option<String>), Vec<EntryKind>> {
    let mut entries = b.store.log_entries("prod-eu").await.unwrap();
    entries.sort_by_key(|e| (e.chain(), e.seq));
    let mut chains: BTreeMap<(InterventionId, Option<String>), Vec<EntryKind>> = BTreeMap::new();
    for entry in entries {
        let chain = chains.entry((entry.intervention_id, entry.lane.clone())).or_default();
        assert_eq!(entry.seq as usize, chain.len(), "{}: contiguous from 0", b.name);
        chain.push(entry.kind);
    }
    chains
}

/// Each decision appends its entry with the decision, and only then: a repeat, a used-up or decided link,
/// a cancel after an answer, a timeout after one and a second cancel append nothing. A link's submissions
/// are lanes; votes, the decision, a cancel and the timeout are on the intervention's chain, whose head
/// is its last entry; the export verifies and anchors every chain; no entry holds a secret or a link.
async fn every_decision_appends_its_chain_in_the_same_write_and_a_refused_one_appends_nothing(b: Bench) {
    use EntryKind::{Cancel, Decision, Submission, Timeout, Vote};
    let mut two = input();
    two["maxUrlUses"] = json!(2);
    let (answered, token) = b.create(&two).await;
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s1").await), "{}", b.name);
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s1").await), "{}: a repeat", b.name);
    assert!(accepted(&b.post(&token, "decision=reject&_submissionId=s2").await), "{}", b.name);
    let used_up = b.post(&token, "decision=approve&_submissionId=s3").await;
    assert!(matches!(used_up, SubmitResult::Rejected(Rejection::UsedUp)), "{}: {used_up:?}", b.name);
    assert!(matches!(b.service.cancel(&answered).await.unwrap(), Cancellation::TooLate { .. }), "{}", b.name);
    let (cancelled, _) = b.create(&input()).await;
    assert_eq!(b.service.cancel(&cancelled).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.service.cancel(&cancelled).await.unwrap(), Cancellation::Cancelled, "{}: again", b.name);
    let (voted, tokens) = b.create(&quorum(&["a", "b", "c"], 2)).await;
    assert!(accepted(&b.vote(&tokens["a"], "approve", "v1").await), "{}", b.name);
    assert!(accepted(&b.vote(&tokens["b"], "approve", "v2").await), "{}", b.name);
    let decided = b.vote(&tokens["c"], "reject", "v3").await;
    assert!(matches!(decided, SubmitResult::Rejected(Rejection::Decided(_))), "{}: {decided:?}", b.name);
    let (timed_out, _) = b.create(&input()).await;
    // Created a few seconds after START (each vote moves the clock): past its expiry.
    b.clock.set(at(EXPIRY + 60_000));
    assert_eq!(b.service.fire_timeout(&timed_out).await.unwrap(), TimeoutOutcome::Queued, "{}", b.name);
    let refused = b.service.fire_timeout(&answered).await.unwrap();
    assert_eq!(refused, TimeoutOutcome::Refused(TimeoutRefusal::Answered), "{}", b.name);
    assert_eq!(
        b.service.fire_timeout(&timed_out).await.unwrap(),
        TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut)
    );
    let lane = |sid: &str| Some(sid.to_owned());
    let expected = BTreeMap::from([
        ((answered, lane("s1")), vec![Submission]),
        ((answered, lane("s2")), vec![Submission]),
        ((cancelled, None), vec![Cancel]),
        ((voted, None), vec![Vote, Decision]),
        ((timed_out, None), vec![Timeout]),
    ]);
    assert_eq!(chains(&b).await, expected, "{}", b.name);
    let head = b.store.get(&voted).await.unwrap().unwrap().log_head.expect("a head");
    let export = export_log(b.store.as_ref(), "prod-eu", at(EXPIRY)).await.expect("exported");
    let verified = verify(&export.text).expect("the export verifies");
    assert_eq!((verified.entries, verified.chains), (6, 5), "{}", b.name);
    let anchored = verified.checkpoint.heads.iter().find(|h| h.intervention_id == voted.to_string()).unwrap();
    assert_eq!((anchored.seq, &anchored.digest), (head.seq, &head.digest), "{}: the head is the last entry", b.name);
    let schema = intervention_tests::validator(intervention_tests::DECISION_LOG_SCHEMA);
    for line in export.text.lines() {
        let problems = intervention_tests::violations(&schema, &serde_json::from_str(line).unwrap());
        assert!(problems.is_empty(), "{}: {line} breaks the schema: {problems:?}", b.name);
    }
    for secret in ["a@example.com", "A-1001", "/i/", token.as_str().unwrap()] {
        assert!(!export.text.contains(secret), "{}: {secret} in the log", b.name);
    }
    // The next export follows this checkpoint; one that lost the race to store its checkpoint is refused.
    let next = export_log(b.store.as_ref(), "prod-eu", at(EXPIRY + 1)).await.expect("exported again");
    assert_eq!(next.checkpoint.prev, export.checkpoint.digest, "{}", b.name);
    assert!(verify_after(&next.text, &export.checkpoint).is_ok(), "{}", b.name);
    let stale = Checkpoint::after(Some(&export.checkpoint), "prod-eu", &[], at(EXPIRY + 2));
    let refused = b.store.add_checkpoint(&stale).await;
    assert!(matches!(refused, Err(StoreError::AlreadyExists)), "{}: {refused:?}", b.name);
}

/// A quorum's cancel and timeout decided on a read from before a vote was counted (the log's head moved)
/// are refused by the store as stale, appending nothing; the service reads again and the cancel follows
/// the vote on the chain.
async fn a_cancel_or_timeout_decided_before_a_vote_was_counted_is_stale_and_appends_nothing(b: Bench) {
    use EntryKind::{Cancel, Vote};
    let (id, tokens) = b.create(&quorum(&["a", "b", "c"], 2)).await;
    let before = b.store.get(&id).await.unwrap().unwrap();
    assert!(accepted(&b.vote(&tokens["a"], "approve", "v1").await), "{}", b.name);
    let cancel = lifecycle::cancel(&before, b.clock.now(), None);
    let refused = b.store.cancel(&before, &cancel).await.unwrap();
    assert!(matches!(refused, CancelOutcome::Stale), "{}: {refused:?}", b.name);
    b.clock.set(at(EXPIRY + 60_000));
    let continuation = Continuation::for_timeout(&before).expect("onTimeout");
    let change = lifecycle::time_out(&before, &continuation.id, b.clock.now()).expect("due on the read");
    let refused = b.store.time_out(&before, &continuation, &change).await.unwrap();
    assert_eq!(refused, TimeoutOutcome::Refused(TimeoutRefusal::Moved), "{}", b.name);
    assert_eq!(chains(&b).await, BTreeMap::from([((id, None), vec![Vote])]), "{}: nothing appended", b.name);
    assert_eq!(b.service.cancel(&id).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(chains(&b).await, BTreeMap::from([((id, None), vec![Vote, Cancel])]), "{}", b.name);
}

/// Two reviewers reached by email and Slack (r0) and Teams (r1), reminded at half the expiry.
fn notified() -> Value {
    let mut value = reviewers_input(2, &[0, 1]);
    value["reviewers"][0]["notify"] = json!({"email": ["r0@example.com"], "slack": "C0123456789"});
    value["reviewers"][1]["notify"] = json!({"teams": "ops"});
    value
}

async fn messages_are_recorded_with_their_intervention_claimed_by_one_sender_and_slotted_as_the_domain_says(b: Bench) {
    let created = b.created(&notified()).await;
    let (id, now) = (created.id, b.clock.now());
    let messages = b.store.messages(&id).await.unwrap();
    let channels: Vec<_> = messages.iter().map(|m| (m.reviewer, m.channel)).collect();
    assert_eq!(
        channels,
        [(Some(0), Channel::Email), (Some(0), Channel::Slack), (Some(1), Channel::Teams)],
        "{}",
        b.name
    );
    assert!(messages.iter().all(|m| m.sent.is_none() && m.kind == MessageKind::Request));
    assert_eq!(messages[0].links.open, created.links["r0"].as_str().unwrap(), "{}: r0's own link", b.name);
    assert_eq!(messages[2].links.open, created.links["r1"].as_str().unwrap(), "{}: r1's own link", b.name);
    assert_eq!(b.store.unsent_messages(10, now).await.unwrap().len(), 3, "{}", b.name);
    assert!(b.store.open_messages(10, created.expires).await.unwrap().is_empty());
    // The same intervention again is refused, and writes no second set of messages.
    let stored = b.store.get(&id).await.unwrap().unwrap();
    assert!(matches!(b.store.create(&stored, &messages).await, Err(StoreError::AlreadyExists)), "{}", b.name);
    assert_eq!(b.store.messages(&id).await.unwrap().len(), 3);

    // One sender at a time: a second claim is refused until the first is a dead sender's.
    let email = &messages[0];
    assert!(b.store.claim_message(&id, &email.id, &message::claim(now)).await.unwrap().is_some(), "{}", b.name);
    let later = now.plus_millis(MESSAGE_CLAIM_MILLIS - 1);
    assert!(b.store.claim_message(&id, &email.id, &message::claim(later)).await.unwrap().is_none(), "{}", b.name);
    let dead = now.plus_millis(MESSAGE_CLAIM_MILLIS + 1);
    assert!(b.store.claim_message(&id, &email.id, &message::claim(dead)).await.unwrap().is_some(), "{}", b.name);

    // A failed try waits for its retry instant; it can be claimed again once settled.
    let failed = email.clone().failed(now, "throttled", Some(30_000));
    b.store.settle_message(&failed, failed.slot(created.expires)).await.unwrap();
    let due: Vec<String> = b.store.unsent_messages(10, now).await.unwrap().into_iter().map(|m| m.id).collect();
    assert!(!due.contains(&email.id), "{}: not due before its retry", b.name);
    let retry = now.plus_millis(30_000);
    assert!(b.store.unsent_messages(10, retry).await.unwrap().iter().any(|m| m.id == email.id), "{}", b.name);
    assert!(b.store.claim_message(&id, &email.id, &message::claim(retry)).await.unwrap().is_some(), "{}", b.name);

    // A sent Slack message is open until the link's expiry; a parked one is out of the outbox.
    let slack = messages[1].clone().sent(now, Some("1700000000.000100".into()), Some("C0123456789".into()));
    b.store.settle_message(&slack, slack.slot(created.expires)).await.unwrap();
    let teams = messages[2].clone().parked(now, "no such channel");
    b.store.settle_message(&teams, teams.slot(created.expires)).await.unwrap();
    assert!(b.store.claim_message(&id, &teams.id, &message::claim(dead)).await.unwrap().is_none(), "{}", b.name);
    assert!(b.store.open_messages(10, created.expires.plus_millis(-1)).await.unwrap().is_empty(), "{}", b.name);
    let open = b.store.open_messages(10, created.expires).await.unwrap();
    assert_eq!(open, std::slice::from_ref(&slack), "{}", b.name);
    let unsent: Vec<String> = b.store.unsent_messages(10, retry).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(unsent, std::slice::from_ref(&email.id), "{}", b.name);
    let closed = Message { closed_at: Some(now), ..slack };
    b.store.settle_message(&closed, closed.slot(created.expires)).await.unwrap();
    assert!(b.store.open_messages(10, created.expires).await.unwrap().is_empty(), "{}", b.name);
    assert_eq!(b.store.messages(&id).await.unwrap()[1], closed, "{}: stored as settled", b.name);
}

async fn a_reminder_reaches_only_the_reminded_reviewers_who_have_not_answered_on_their_channels(b: Bench) {
    let created = b.created(&notified()).await;
    let id = created.id;
    let result = b.post(&created.tokens["r1"], "decision=approve&_submissionId=r1-answer").await;
    assert!(accepted(&result), "{}: {result:?}", b.name);
    b.clock.advance(31 * 60_000);
    assert_eq!(b.service.fire_reminder(&id).await.unwrap(), ReminderOutcome::Queued, "{}", b.name);
    let messages = b.store.messages(&id).await.unwrap();
    let reminders: Vec<_> =
        messages.iter().filter(|m| m.kind == MessageKind::Reminder).map(|m| (m.reviewer, m.channel)).collect();
    assert_eq!(reminders, [(Some(0), Channel::Email), (Some(0), Channel::Slack)], "{}: r1 answered", b.name);
    let r0: Vec<_> = messages.iter().filter(|m| m.reviewer == Some(0)).map(|m| m.links.clone()).collect();
    assert!(r0.windows(2).all(|w| w[0] == w[1]), "{}: the reminder carries the request's own links", b.name);
    // Fired again: refused, and no second set of reminders.
    b.service.fire_reminder(&id).await.unwrap();
    assert_eq!(b.store.messages(&id).await.unwrap().len(), messages.len(), "{}", b.name);
}

/// A durable function's callback is a waiting run like a task: stored with its kind (DynamoDB's
/// `taskKind`), answered with the first answer once, by Lambda's rules (a closed callback is
/// `CallbackTimeoutException`: gone, the links expire), failed at once by an operator's cancel.
async fn a_durable_functions_callback_gets_the_first_answer_once_on_its_own_service_and_a_closed_one_is_gone(b: Bench) {
    const CALLBACK: &str = "ZHVyYWJsZS1jYWxsYmFjay0x+/A=";
    let (id, token) = b.create(&input()).await;
    assert_eq!(b.attach_callback(id, CALLBACK).await.expect("attached"), Attached::Waiting, "{}", b.name);
    let stored = b.store.get(&id).await.unwrap().unwrap();
    let TaskStatus::Waiting { token: waiting, .. } = &stored.task else { panic!("{}: {:?}", b.name, stored.task) };
    assert_eq!(waiting.kind(), WaitKind::DurableFunction, "{}: the kind is stored with the id", b.name);
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s-1").await), "{}", b.name);
    b.publish().await;
    b.publish().await;
    let output: Value = serde_json::from_str(&b.tasks.output(CALLBACK).expect("answered")).unwrap();
    assert_eq!(output["outcome"], "submitted", "{}: {output}", b.name);
    assert_eq!(b.tasks.succeed_calls(), 1, "{}: once, after a second publish", b.name);
    assert!(!output.to_string().contains(CALLBACK), "{}: the callback id is never in the answer", b.name);

    // A callback that timed out before the decision: Lambda refuses it; recorded gone, the link expires.
    let (id, token) = b.create(&input()).await;
    b.attach_callback(id, "Y2xvc2Vk").await.expect("attached");
    b.tasks.time_out("Y2xvc2Vk");
    assert!(accepted(&b.post(&token, "decision=approve&_submissionId=s-2").await), "{}", b.name);
    b.publish().await;
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["task"]["state"], "gone", "{}: {record}", b.name);
    assert_eq!(record["task"]["reason"], "CallbackTimeoutException", "{}: {record}", b.name);
    assert!(matches!(b.view(&token).await, View::Rejected(Rejection::Expired)), "{}: Link has expired", b.name);
    assert!(!record.to_string().contains("Y2xvc2Vk"), "{}: never in the record", b.name);

    // An operator's cancel fails the waiting callback at once with the named error.
    let (id, _) = b.create(&input()).await;
    b.attach_callback(id, "Y2FuY2Vs").await.expect("attached");
    assert_eq!(b.service.cancel(&id).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.tasks.failure("Y2FuY2Vs").as_deref(), Some(CANCELLED_ERROR), "{}", b.name);
}

async fn an_operator_cancel_fails_the_waiting_run_at_once_with_its_named_error_and_a_run_that_ended_is_not_told(
    b: Bench,
) {
    let (id, token) = b.create(&input()).await;
    b.attach(id, "task-1").await.expect("attached");
    let ops = lifecycle::Operator::new("ops@example.com", Some("sent to the wrong person")).unwrap();
    assert_eq!(b.service.cancel_as(&id, Some(&ops)).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.tasks.failure("task-1").as_deref(), Some(CANCELLED_ERROR), "{}: failed at once", b.name);
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["task"]["state"], "gone", "{}: {record}", b.name);
    assert_eq!(record["task"]["reason"], CANCELLED_ERROR, "{}: {record}", b.name);
    // The audit trail: who, what, when and why, from the cancel's own decision log entry.
    let when = b.clock.now().to_rfc3339();
    let expected =
        json!([{"action": "cancel", "by": "ops@example.com", "at": when, "reason": "sent to the wrong person"}]);
    assert_eq!(record["actions"], expected, "{}", b.name);
    let entries = b.store.intervention_log(&id).await.unwrap();
    assert_eq!(entries.len(), 1, "{}", b.name);
    let export = export_log(b.store.as_ref(), "prod-eu", at(EXPIRY)).await.expect("exported");
    let verified = verify(&export.text).expect("the export with the operator's entry verifies");
    assert_eq!(verified.entries, 1, "{}", b.name);
    let schema = intervention_tests::validator(intervention_tests::DECISION_LOG_SCHEMA);
    for line in export.text.lines() {
        let problems = intervention_tests::violations(&schema, &serde_json::from_str(line).unwrap());
        assert!(problems.is_empty(), "{}: {line} breaks the schema: {problems:?}", b.name);
    }
    assert!(matches!(b.view(&token).await, View::Rejected(Rejection::Expired)), "{}", b.name);
    // Cancelled again: the run was told once.
    assert_eq!(b.service.cancel(&id).await.unwrap(), Cancellation::Cancelled, "{}", b.name);
    assert_eq!(b.tasks.succeed_calls(), 0, "{}", b.name);

    // A run that ended (the cancel rule's event) is gone: it is not told.
    let mut other = input();
    other["correlationId"] = json!("ended-run");
    let (ended, _) = b.create(&other).await;
    b.attach(ended, "task-2").await.expect("attached");
    let answers = b.service.cancel_run("ended-run").await.unwrap();
    assert_eq!(answers, [(ended, Cancellation::Cancelled)], "{}", b.name);
    assert_eq!(b.tasks.failure("task-2"), None, "{}: the ended run is not failed", b.name);
}

fn ops(reason: &str) -> lifecycle::Operator {
    lifecycle::Operator::new("arn:aws:iam::123456789012:user/ops", Some(reason)).unwrap()
}

/// The export of the environment verifies, and each line keeps the decision log's schema.
async fn export_verifies(b: &Bench) -> usize {
    let export = export_log(b.store.as_ref(), "prod-eu", b.clock.now()).await.expect("exported");
    let verified = verify(&export.text).expect("the export with the operators' entries verifies");
    let schema = intervention_tests::validator(intervention_tests::DECISION_LOG_SCHEMA);
    for line in export.text.lines() {
        let problems = intervention_tests::violations(&schema, &serde_json::from_str(line).unwrap());
        assert!(problems.is_empty(), "{}: {line} breaks the schema: {problems:?}", b.name);
    }
    verified.entries
}

async fn an_operator_expiry_queues_the_timeout_once_with_its_entry_and_the_waiting_run_gets_it(b: Bench) {
    let (id, token) = b.create(&input()).await;
    b.attach(id, "task-1").await.expect("attached");
    let Acted::Done(done) = b.service.expire_as(&id, &ops("withdrawn")).await.unwrap() else { panic!("{}", b.name) };
    assert_eq!(done.continuation_id, Some(format!("{id}:timeout")), "{}", b.name);
    assert!(matches!(b.view(&token).await, View::Rejected(Rejection::Expired)), "{}", b.name);
    assert!(b.scheduler.take_due(at(EXPIRY + 5)).is_empty(), "{}: its timer is removed", b.name);
    let collected = b.collect().await;
    assert_eq!(collected.len(), 1, "{}", b.name);
    assert_eq!(collected[0].outcome, Outcome::TimedOut, "{}", b.name);
    let output: Value = serde_json::from_str(&b.tasks.output("task-1").expect("the run was answered")).unwrap();
    assert_eq!(output["id"], json!(format!("{id}:timeout")), "{}", b.name);
    b.clock.set(at(EXPIRY + 5));
    let fired = b.service.fire_timeout(&id).await.unwrap();
    assert_eq!(fired, TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut), "{}", b.name);
    assert_eq!(b.store.continuations(&id).await.unwrap().len(), 1, "{}: one continuation", b.name);
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["state"], "timedOut", "{}", b.name);
    assert_eq!(record["actions"][0]["action"], "expire", "{}: {record}", b.name);
    assert_eq!(record["actions"][0]["reason"], "withdrawn", "{}: {record}", b.name);
    assert_eq!(export_verifies(&b).await, 1, "{}", b.name);
}

async fn an_operator_action_decided_before_another_decision_changes_nothing_and_appends_nothing(b: Bench) {
    let (id, _) = b.create(&input()).await;
    let read = b.store.get(&id).await.unwrap().unwrap();
    let now = b.clock.now();
    let timeout = Continuation::for_timeout(&read).expect("onTimeout");
    let expire = lifecycle::expire(&read, Some(&timeout.id), now, &ops("x"));
    let resend = lifecycle::resend(&read, None, now, &ops("y"));
    assert_eq!(b.store.act(&read, None, &[], &resend).await.unwrap(), ActionOutcome::Done, "{}", b.name);
    // Decided on the same read: the log moved.
    let stale = b.store.act(&read, Some(&timeout), &[], &expire).await.unwrap();
    assert_eq!(stale, ActionOutcome::Refused(lifecycle::ActionRefusal::Moved), "{}", b.name);
    assert!(b.store.continuations(&id).await.unwrap().is_empty(), "{}: nothing queued", b.name);
    b.service.cancel(&id).await.unwrap();
    let cancelled = b.store.get(&id).await.unwrap().unwrap();
    let expire = lifecycle::expire(&cancelled, Some(&timeout.id), now, &ops("x"));
    let late = b.store.act(&cancelled, Some(&timeout), &[], &expire).await.unwrap();
    assert_eq!(late, ActionOutcome::Refused(lifecycle::ActionRefusal::Cancelled), "{}", b.name);
    let kinds: Vec<EntryKind> = b.store.intervention_log(&id).await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 2, "{}: {kinds:?}", b.name);
    assert!(kinds.contains(&EntryKind::Resend) && kinds.contains(&EntryKind::Cancel), "{}: {kinds:?}", b.name);
    assert!(b.store.continuations(&id).await.unwrap().is_empty(), "{}: nothing queued", b.name);
    let unknown = Continuation { id: "x".into(), ..timeout };
    let mut gone = read.clone();
    gone.id = InterventionId::random().unwrap();
    let change = lifecycle::expire(&gone, Some("x"), now, &ops("x"));
    assert_eq!(b.store.act(&gone, Some(&unknown), &[], &change).await.unwrap(), ActionOutcome::NotFound, "{}", b.name);
}

async fn a_resend_and_an_extension_record_their_messages_in_the_same_write_and_the_links_keep_their_own_expiry(
    b: Bench,
) {
    let created = b.created(&notified()).await;
    let id = created.id;
    let requests = b.store.messages(&id).await.unwrap();
    let Acted::Done(resent) = b.service.resend_as(&id, &ops("bounced"), ResendTo::default()).await.unwrap() else {
        panic!("{}", b.name)
    };
    assert_eq!(resent.message_ids.len(), 3, "{}", b.name);
    let due: BTreeSet<String> =
        b.store.unsent_messages(20, b.clock.now()).await.unwrap().into_iter().map(|m| m.id).collect();
    assert!(resent.message_ids.iter().all(|m| due.contains(m)), "{}: unsent, due now", b.name);
    let stored = b.store.messages(&id).await.unwrap();
    let again = stored.iter().find(|m| m.id == resent.message_ids[0]).unwrap();
    assert_eq!(again.links, requests[0].links, "{}: the request's own links", b.name);

    b.attach(id, "task-1").await.expect("attached");
    let later = at(EXPIRY + 3_600_000);
    let Acted::Done(extended) = b.service.extend_as(&id, &ops("away"), later).await.unwrap() else {
        panic!("{}", b.name)
    };
    assert_eq!(b.store.get(&id).await.unwrap().unwrap().expires_at, later, "{}", b.name);
    let stored = b.store.messages(&id).await.unwrap();
    let new = stored.iter().find(|m| m.id == extended.message_ids[0]).unwrap();
    assert_ne!(new.links, requests[0].links, "{}: new links", b.name);
    let new_token = json!(new.links.open.rsplit('/').next().unwrap());
    b.clock.set(at(EXPIRY + 5));
    assert!(matches!(b.view(&created.tokens["r0"]).await, View::Rejected(Rejection::Expired)), "{}", b.name);
    assert!(matches!(b.view(&new_token).await, View::Live(_)), "{}", b.name);
    assert!(b.scheduler.take_due(at(EXPIRY + 5)).is_empty(), "{}: the timer moved", b.name);
    // The run went: the next extension is refused by name, and changes nothing.
    b.tasks.time_out("task-1");
    let refused = b.service.extend_as(&id, &ops("again"), later.plus_millis(60_000)).await.unwrap();
    assert!(matches!(refused, Acted::Refused { refusal: lifecycle::ActionRefusal::RunGone, .. }), "{}", b.name);
    assert_eq!(b.store.get(&id).await.unwrap().unwrap().expires_at, later, "{}", b.name);
    let record = serde_json::to_value(b.service.record(&id).await.unwrap().unwrap()).unwrap();
    let actions: Vec<_> = record["actions"].as_array().unwrap().iter().map(|a| a["action"].clone()).collect();
    assert_eq!(actions, [json!("resend"), json!("extend")], "{}", b.name);
    assert_eq!(export_verifies(&b).await, 2, "{}", b.name);
}

use super::*;
use crate::domain::creation::NewIntervention;
use crate::domain::id::InterventionId;
use crate::domain::model::{Quorum, Tally};
use crate::domain::task::TaskToken;
use crate::domain::task::TASK_CLAIM_MILLIS;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap()
}

fn intervention(edit: impl FnOnce(&mut serde_json::Value)) -> Intervention {
    let mut input = crate::domain::creation::tests::example();
    edit(&mut input);
    let new = NewIntervention::parse(input.to_string().as_bytes(), now()).expect("valid input");
    Intervention::new(InterventionId::random().unwrap(), new, now())
}

fn sid(text: &str) -> SubmissionId {
    SubmissionId::parse(text).expect("a submission id")
}

#[test]
fn a_change_is_refused_by_its_first_failing_guard_and_applied_only_when_all_hold() {
    let mut i = intervention(|_| {});
    let change = accept(&i, None, &sid("s1"), "c1", now()).expect("live");
    assert_eq!(change.refusal(&i), None);
    i.cancelled_at = Some(now());
    assert_eq!(change.refusal(&i), Some(SubmissionRefusal::Rejected(Rejection::Expired)));
    assert_eq!(change.apply(&mut i), Err(SubmissionRefusal::Rejected(Rejection::Expired)));
    assert_eq!(i.uses, 0, "nothing applied");
    i.cancelled_at = None;
    change.apply(&mut i).unwrap();
    assert_eq!((i.uses, i.first_answer.as_deref()), (1, Some("c1")));
    // The first answer stays the first.
    i.max_uses = 2;
    accept(&i, None, &sid("s2"), "c2", now()).unwrap().apply(&mut i).unwrap();
    assert_eq!((i.uses, i.first_answer.as_deref()), (2, Some("c1")));
    assert_eq!(accept(&i, None, &sid("s3"), "c3", now()).unwrap_err(), Rejection::UsedUp);
}

#[test]
fn a_vote_on_an_old_tally_is_stale_and_a_decided_quorum_says_how() {
    let mut i = intervention(|_| {});
    i.reviewers = (0..3)
        .map(|k| crate::domain::model::Reviewer { id: format!("r{k}"), name: format!("R{k}"), notify: None })
        .collect();
    i.max_uses = 3;
    i.quorum = Some(Quorum {
        approvals: 2,
        field: crate::domain::context::ContextKey::parse("decision").unwrap(),
        approve: "approve".into(),
        reject: "reject".into(),
    });
    let read = i.clone();
    let first = vote(&read, 0, &sid("s0"), true, None, now()).unwrap();
    let second = vote(&read, 1, &sid("s1"), true, None, now()).unwrap();
    first.apply(&mut i).unwrap();
    assert_eq!(second.refusal(&i), Some(SubmissionRefusal::Stale));
    let deciding = vote(&i, 1, &sid("s1"), true, Some((Verdict::Approved, "c1")), now()).unwrap();
    deciding.apply(&mut i).unwrap();
    assert_eq!(i.tally, Tally { approvals: 2, rejections: 0 });
    assert_eq!(i.refusal_for(Some(2), now()), Some(Rejection::Decided(Verdict::Approved)));
    assert_eq!(i.first_answer.as_deref(), Some("c1"));
    assert_eq!(cancel(&i, now(), None).refusal(&i), Some(CancelRefusal::TooLate));
}

#[test]
fn timeout_reminder_and_cancel_exclude_each_other_by_their_guards() {
    let mut i = intervention(|_| {});
    let expired = i.expires_at;
    assert_eq!(time_out(&i, "t", now()).unwrap_err(), TimeoutRefusal::NotDue);
    let change = time_out(&i, "t", expired).expect("due");
    cancel(&i.clone(), now(), None).apply(&mut i).unwrap();
    assert_eq!(change.refusal(&i), Some(TimeoutRefusal::Cancelled));
    assert_eq!(cancel(&i, now(), None).refusal(&i), Some(CancelRefusal::AlreadyCancelled));
    let mut j = intervention(|_| {});
    change.apply(&mut j).unwrap();
    assert_eq!(cancel(&j, now(), None).refusal(&j), Some(CancelRefusal::TooLate));
    assert_eq!(j.first_answer.as_deref(), Some("t"));
}

#[test]
fn a_claim_is_free_again_exactly_when_its_hold_ends() {
    let token = TaskToken::parse("token-1").unwrap();
    let mut i = intervention(|_| {});
    assert_eq!(claim(now()).refusal(&i), Some(TaskRefusal::NotClaimable), "no run waits");
    attach(&token, now()).apply(&mut i).unwrap();
    claim(now()).apply(&mut i).unwrap();
    let just_before = now().plus_millis(TASK_CLAIM_MILLIS - 1);
    assert_eq!(claim(just_before).refusal(&i), Some(TaskRefusal::NotClaimable));
    claim(now().plus_millis(TASK_CLAIM_MILLIS)).apply(&mut i).expect("free at exactly the hold");
    let other = TaskToken::parse("token-2").unwrap();
    assert_eq!(settle(&other, &Settlement::Released, now()).refusal(&i), Some(TaskRefusal::Replaced));
    settle(&token, &Settlement::Gone("TaskTimedOut".into()), now()).apply(&mut i).unwrap();
    assert!(i.task.is_gone());
    assert_eq!(i.refusal_for(None, now()), Some(Rejection::Expired));
}

#[test]
fn a_reminder_is_refused_once_the_waiting_run_is_gone() {
    let token = TaskToken::parse("token-1").unwrap();
    let mut i = intervention(|_| {});
    i.reviewers = vec![crate::domain::model::Reviewer { id: "r0".into(), name: "R0".into(), notify: None }];
    i.remind = Some(crate::domain::model::Remind {
        at: now(),
        to: vec!["r0".into()],
        rule_set_id: "remind".into(),
        links: vec!["https://x/i/t".into()],
    });
    attach(&token, now()).apply(&mut i).unwrap();
    let change = remind(&i, now()).expect("due");
    settle(&token, &Settlement::Gone("TaskDoesNotExist".into()), now()).apply(&mut i).unwrap();
    assert_eq!(change.refusal(&i), Some(ReminderBlock::Refused(ReminderRefusal::Cancelled)));
}

#[test]
fn a_links_submissions_each_append_a_lane_and_never_wait_on_each_other() {
    let mut i = intervention(|_| {});
    i.max_uses = 3;
    let read = i.clone();
    let first = accept(&read, None, &sid("s0"), "c0", now()).unwrap();
    let second = accept(&read, None, &sid("s1"), "c1", now()).unwrap();
    assert!(!first.guards.iter().any(|g| matches!(g, Guard::LogHeadIs(_))), "no head to compare and set");
    first.apply(&mut i).unwrap();
    // Decided on the same read, and still accepted: its entry is a lane of its own.
    second.apply(&mut i).unwrap();
    let lanes: Vec<(Option<String>, u64, EntryKind)> = [&first, &second]
        .iter()
        .filter_map(|c| match c.effects.last() {
            Some(Effect::Append(e)) => Some((e.lane.clone(), e.seq, e.kind)),
            _ => None,
        })
        .collect();
    let lane = |s: &str| Some(s.to_owned());
    assert_eq!(lanes, vec![(lane("s0"), 0, EntryKind::Submission), (lane("s1"), 0, EntryKind::Submission)]);
    assert_eq!(i.log_head, None, "lanes leave the intervention's chain where it is");
    // Answered: the cancel is too late and appends nothing.
    assert_eq!(cancel(&i.clone(), now(), None).apply(&mut i), Err(CancelRefusal::TooLate));
    assert_eq!(i.log_head, None);
}

#[test]
fn a_cancel_decided_before_a_vote_was_counted_is_decided_again() {
    let mut i = intervention(|_| {});
    i.reviewers = (0..3)
        .map(|k| crate::domain::model::Reviewer { id: format!("r{k}"), name: format!("R{k}"), notify: None })
        .collect();
    i.max_uses = 3;
    i.quorum = Some(Quorum {
        approvals: 2,
        field: crate::domain::context::ContextKey::parse("decision").unwrap(),
        approve: "approve".into(),
        reject: "reject".into(),
    });
    let read = i.clone();
    let first = vote(&read, 0, &sid("s0"), true, None, now()).unwrap();
    let second = vote(&read, 1, &sid("s1"), false, None, now()).unwrap();
    first.apply(&mut i).unwrap();
    assert_eq!(i.log_head.as_ref().map(|h| h.seq), Some(0));
    // A vote on the head before another is decided again (its tally moved too).
    assert_eq!(second.refusal(&i), Some(SubmissionRefusal::Stale));
    assert_eq!(cancel(&read, now(), None).refusal(&i), Some(CancelRefusal::Moved));
    cancel(&i.clone(), now(), None).apply(&mut i).unwrap();
    assert_eq!(i.log_head.as_ref().map(|h| h.seq), Some(1), "the vote, then the cancel");
}

#[test]
fn an_operators_action_is_refused_by_the_name_of_its_first_failing_guard() {
    let ops = Operator::new("ops", Some("why")).unwrap();
    let i = intervention(|_| {});
    let expire_change = expire(&i, Some("c"), now(), &ops);
    assert_eq!(expire_change.refusal(&i), None);
    let mut after = i.clone();
    expire_change.apply(&mut after).unwrap();
    assert_eq!((after.expires_at, after.timed_out_at, after.first_answer.as_deref()), (now(), Some(now()), Some("c")));
    let seq = after.log_head.as_ref().map(|h| h.seq);
    assert_eq!(seq, Some(0), "its entry is on the chain");
    // Refused by name: the expiry just applied, a cancel, an answer, a moved log.
    assert_eq!(expire(&after, None, now(), &ops).refusal(&after), Some(ActionRefusal::TimedOut));
    assert_eq!(resend(&after, None, now(), &ops).refusal(&after), Some(ActionRefusal::TimedOut));
    let mut cancelled = i.clone();
    cancelled.cancelled_at = Some(now());
    assert_eq!(expire(&cancelled, None, now(), &ops).refusal(&cancelled), Some(ActionRefusal::Cancelled));
    let mut answered = i.clone();
    answered.uses = 1;
    assert_eq!(expire(&answered, None, now(), &ops).refusal(&answered), Some(ActionRefusal::Decided));
    assert_eq!(expire_change.refusal(&after), Some(ActionRefusal::TimedOut));
    let moved = resend(&i, None, now(), &ops);
    let mut other = i.clone();
    resend(&i, None, now(), &ops).apply(&mut other).unwrap();
    assert_eq!(moved.refusal(&other), Some(ActionRefusal::Moved));
    // An extension: later, within the run's availability, else refused before any write.
    let later = i.expires_at.plus_millis(60_000);
    assert_eq!(extend(&i, i.expires_at, now(), &ops).unwrap_err(), ActionRefusal::NotLater);
    let past = i.run_available_until.plus_millis(1);
    assert_eq!(extend(&i, past, now(), &ops).unwrap_err(), ActionRefusal::PastRunAvailability);
    let mut extended = i.clone();
    extend(&i, later, now(), &ops).unwrap().apply(&mut extended).unwrap();
    assert_eq!(extended.expires_at, later);
    let expired_at = i.expires_at.plus_millis(1);
    assert_eq!(extend(&i, later, expired_at, &ops).unwrap_err(), ActionRefusal::Expired);
}

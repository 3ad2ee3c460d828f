//! The intervention's lifecycle, decided once: each change (accept a submission, count a vote, time out,
//! remind, cancel, an operator's expiry, re-send and extension, attach a token, claim and settle a
//! delivery) is decided here from the intervention as
//! read, and handed to the store as a value — the [`Guard`]s under which it may apply, its [`Effect`]s on
//! the intervention, and how a failed guard is explained. A store checks the guards atomically with the
//! effects (the memory store under its lock, DynamoDB as one condition), and explains a refusal with
//! [`Change::refusal`] on the item as it found it: no adapter decides or guesses.
//!
//! Every decision (an accepted submission, a counted vote, the quorum's decision, the timeout, an
//! operator's action) also appends its entry to the intervention's decision log (`domain::ledger`) in the same change: the
//! guard [`Guard::LogHeadIs`] holds it to the head read, and [`Effect::Append`] moves the head. A link's
//! accepted submission (no quorum) is the exception: its entry is a lane of its own, with no head to hold.

mod actions;
mod delivery;
mod effect;
mod guard;
pub mod refusals;

pub use actions::{expire, extend, resend, ActionRefusal};
pub use delivery::{attach, claim, settle, Settlement, TaskRefusal};

pub use effect::Effect;

pub use guard::Guard;

use crate::domain::id::SubmissionId;
use crate::domain::ledger::{Decided, Entry, EntryKind, Vote};
use crate::domain::model::{Decision, Intervention, ReminderRefusal, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;
use crate::domain::verdict::Verdict;

/// A change decided from the intervention as read: apply `effects` only if every guard holds on the
/// intervention as stored; otherwise the first guard that fails says why (`R`).
#[derive(Debug, Clone)]
pub struct Change<R> {
    /// The conditions, in the order their failures are reported.
    pub guards: Vec<Guard>,
    /// What the change does.
    pub effects: Vec<Effect>,
    /// The instant it was decided at (the guards' and effects' `now`).
    pub at: Timestamp,
    explain: fn(&Guard, &Intervention) -> R,
}

impl<R> Change<R> {
    /// The refusal the first failing guard gives on `current` (the intervention as the store found it);
    /// `None` when every guard holds.
    pub fn refusal(&self, current: &Intervention) -> Option<R> {
        self.guards.iter().find(|g| !g.holds(current)).map(|g| (self.explain)(g, current))
    }

    /// Checks the guards on `stored` and applies the effects if they hold (the memory store's write).
    pub fn apply(&self, stored: &mut Intervention) -> Result<(), R> {
        if let Some(refusal) = self.refusal(stored) {
            return Err(refusal);
        }
        for effect in &self.effects {
            effect.apply(stored);
        }
        Ok(())
    }
}

/// The lifecycle's answers on an intervention as read (the page, the timer's first look).
impl Intervention {
    /// Why a submission through the link of reviewer `reviewer` (an index into `reviewers`; `None` for
    /// the one link of an intervention without reviewers) at `now` would be refused, if it would: the
    /// acceptance's guards (`lifecycle`) on this copy.
    pub fn refusal_for(&self, reviewer: Option<usize>, now: Timestamp) -> Option<Rejection> {
        submission_refusal(self, reviewer, now)
    }

    /// Why the timeout may not fire at `now`, if it may not; `None` means it fires.
    pub fn timeout_refusal_at(&self, now: Timestamp) -> Option<TimeoutRefusal> {
        timeout_refusal(self, now)
    }

    /// Why the reminder may not be queued at `now`, if it may not; `None` means it is queued.
    pub fn reminder_refusal_at(&self, now: Timestamp) -> Option<ReminderRefusal> {
        reminder_refusal(self, now)
    }
}

/// Why a submission or a vote was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionRefusal {
    /// The link refuses (the reviewer is told this).
    Rejected(Rejection),
    /// Another decision came first (a quorum's vote counted, or a submission's entry appended to the
    /// decision log): decide again on a fresh read.
    Stale,
}

/// Why a cancel changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    /// It was cancelled already: the cancel holds.
    AlreadyCancelled,
    /// A continuation was queued for it (an answer, or the timeout).
    TooLate,
    /// A vote was counted since the read (the decision log moved): read again and decide again.
    Moved,
}

/// Why a reminder changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderBlock {
    /// Refused, for this reason.
    Refused(ReminderRefusal),
    /// A submission was accepted since the read: make the reminder again from a fresh read.
    Stale,
}

fn explain_submission(guard: &Guard, current: &Intervention) -> SubmissionRefusal {
    match guard {
        Guard::Undecided => match &current.decision {
            Some(decision) => SubmissionRefusal::Rejected(Rejection::Decided(decision.verdict)),
            None => SubmissionRefusal::Stale,
        },
        Guard::UsesLeft | Guard::ReviewerAbsent(_) => SubmissionRefusal::Rejected(Rejection::UsedUp),
        Guard::TallyIs(_) | Guard::LogHeadIs(_) => SubmissionRefusal::Stale,
        _ => SubmissionRefusal::Rejected(Rejection::Expired),
    }
}

/// Why a submission through `reviewer`'s link (an index into the reviewers; `None` for the one link) at
/// `now` is refused, if it is: the guards of the acceptance on `i` as read.
pub fn submission_refusal(i: &Intervention, reviewer: Option<usize>, now: Timestamp) -> Option<Rejection> {
    // As `Change::refusal` would, without building the change: every page view asks.
    let failed = Guard::submission_guards(i, reviewer, now).find(|guard| !guard.holds(i))?;
    match explain_submission(&failed, i) {
        SubmissionRefusal::Rejected(rejection) => Some(rejection),
        SubmissionRefusal::Stale => None,
    }
}

/// Accepting a submission (no quorum) through `reviewer`'s link at `now`: one use, the reviewer marked,
/// its continuation the first answer if none was before.
pub fn accept(
    read: &Intervention,
    reviewer: Option<usize>,
    submission_id: &SubmissionId,
    continuation_id: &str,
    now: Timestamp,
) -> Result<Change<SubmissionRefusal>, Rejection> {
    let mut effects = vec![Effect::CountUse];
    effects.extend(reviewer.map(|index| Effect::MarkReviewer { index, submission_id: submission_id.clone() }));
    effects.push(Effect::Answer(continuation_id.to_owned()));
    let record = Decided {
        submission_id: Some(submission_id.to_string()),
        reviewer_id: reviewer.and_then(|index| read.reviewers.get(index)).map(|r| r.id.clone()),
        continuation_id: Some(continuation_id.to_owned()),
        ..Decided::default()
    };
    // Its own lane: concurrent acceptances on one link stay guarded by the uses left, not by a head.
    let lane = submission_id.to_string();
    let entry = Entry::in_lane(&read.environment_id, read.id, &lane, EntryKind::Submission, now, record);
    effects.push(Effect::Append(Box::new(entry)));
    let guards = Guard::for_submission(read, reviewer, now);
    decided(Change { guards, effects, at: now, explain: explain_submission }, read)
}

/// Counting a quorum's vote from the reviewer at `reviewer` on the tally read; `decision` when the vote
/// decides (its verdict, and the deciding continuation's id).
pub fn vote(
    read: &Intervention,
    reviewer: usize,
    submission_id: &SubmissionId,
    approve: bool,
    decision: Option<(Verdict, &str)>,
    now: Timestamp,
) -> Result<Change<SubmissionRefusal>, Rejection> {
    let mut tally = read.tally;
    if approve {
        tally.approvals += 1;
    } else {
        tally.rejections += 1;
    }
    let mut effects = vec![
        Effect::CountUse,
        Effect::MarkReviewer { index: reviewer, submission_id: submission_id.clone() },
        Effect::CountVote { approve, tally },
    ];
    let mut record = Decided {
        submission_id: Some(submission_id.to_string()),
        reviewer_id: read.reviewers.get(reviewer).map(|r| r.id.clone()),
        vote: Some(if approve { Vote::Approve } else { Vote::Reject }),
        ..Decided::default()
    };
    if let Some((verdict, continuation_id)) = decision {
        effects.push(Effect::Decide(Decision { verdict, submission_id: submission_id.clone(), at: now }));
        effects.push(Effect::Answer(continuation_id.to_owned()));
        (record.verdict, record.continuation_id) = (Some(verdict), Some(continuation_id.to_owned()));
    }
    let kind = if decision.is_some() { EntryKind::Decision } else { EntryKind::Vote };
    effects.push(logged(read, kind, now, record));
    let guards = Guard::for_submission(read, Some(reviewer), now);
    decided(Change { guards, effects, at: now, explain: explain_submission }, read)
}

/// The entry a decision on `read` appends to its decision log, right after the head read.
fn logged(read: &Intervention, kind: EntryKind, at: Timestamp, decided: Decided) -> Effect {
    let entry = Entry::after(read.log_head.as_ref(), &read.environment_id, read.id, kind, at, decided);
    Effect::Append(Box::new(entry))
}

/// The change if its guards hold on the copy read; else the refusal the reviewer gets without a write.
fn decided(change: Change<SubmissionRefusal>, read: &Intervention) -> Result<Change<SubmissionRefusal>, Rejection> {
    match change.refusal(read) {
        Some(SubmissionRefusal::Rejected(rejection)) => Err(rejection),
        Some(SubmissionRefusal::Stale) | None => Ok(change),
    }
}

fn explain_timeout(guard: &Guard, _: &Intervention) -> TimeoutRefusal {
    match guard {
        Guard::NotTimedOut => TimeoutRefusal::AlreadyTimedOut,
        Guard::NotCancelled => TimeoutRefusal::Cancelled,
        Guard::LinkExpiredAt(_) => TimeoutRefusal::NotDue,
        Guard::RunAvailableAt(_) => TimeoutRefusal::RunUnavailable,
        Guard::LogHeadIs(_) => TimeoutRefusal::Moved,
        _ => TimeoutRefusal::Answered,
    }
}

/// Queuing the timeout continuation (id `continuation_id`) at `now`: only if the link expired unanswered,
/// not cancelled, and the run is still available.
pub fn time_out(
    read: &Intervention,
    continuation_id: &str,
    now: Timestamp,
) -> Result<Change<TimeoutRefusal>, TimeoutRefusal> {
    if read.on_timeout.is_none() {
        return Err(TimeoutRefusal::NoTimeoutContinuation);
    }
    let guards = vec![
        Guard::NotTimedOut,
        Guard::NotCancelled,
        Guard::Unanswered,
        Guard::LinkExpiredAt(now),
        Guard::RunAvailableAt(now),
        Guard::log_head_of(read),
    ];
    let decided = Decided { continuation_id: Some(continuation_id.to_owned()), ..Decided::default() };
    let effects = vec![
        Effect::TimeOut(now),
        Effect::Answer(continuation_id.to_owned()),
        logged(read, EntryKind::Timeout, now, decided),
    ];
    let change = Change { guards, effects, at: now, explain: explain_timeout };
    match change.refusal(read) {
        Some(refusal) => Err(refusal),
        None => Ok(change),
    }
}

/// Why the timeout may not fire at `now` on `i` as read, if it may not.
pub fn timeout_refusal(i: &Intervention, now: Timestamp) -> Option<TimeoutRefusal> {
    time_out(i, "", now).err()
}

fn explain_reminder(guard: &Guard, _: &Intervention) -> ReminderBlock {
    ReminderBlock::Refused(match guard {
        Guard::NotReminded => ReminderRefusal::AlreadyReminded,
        Guard::NotCancelled | Guard::RunNotGone => ReminderRefusal::Cancelled,
        Guard::NotTimedOut => ReminderRefusal::TimedOut,
        Guard::Undecided | Guard::UsesLeft => ReminderRefusal::Completed,
        Guard::LinkLiveAt(_) | Guard::RunAvailableAt(_) => ReminderRefusal::Expired,
        _ => return ReminderBlock::Stale,
    })
}

/// Queuing the reminder at `now`: only while pending, and on exactly the uses read (its pending reviewers
/// were made from them).
pub fn remind(read: &Intervention, now: Timestamp) -> Result<Change<ReminderBlock>, ReminderRefusal> {
    let Some(remind) = &read.remind else { return Err(ReminderRefusal::NoReminder) };
    let guards = vec![
        Guard::NotReminded,
        Guard::NotCancelled,
        Guard::RunNotGone,
        Guard::NotTimedOut,
        Guard::Undecided,
        Guard::UsesLeft,
        Guard::LinkLiveAt(now),
        Guard::RunAvailableAt(now),
        Guard::UsesAre(read.uses),
    ];
    let change = Change { guards, effects: vec![Effect::Remind(now)], at: now, explain: explain_reminder };
    match change.refusal(read) {
        Some(ReminderBlock::Refused(refusal)) => Err(refusal),
        _ if now < remind.at => Err(ReminderRefusal::NotDue),
        _ if read.pending_reminded().is_empty() => Err(ReminderRefusal::NobodyPending),
        _ => Ok(change),
    }
}

/// Why the reminder may not be queued at `now` on `i` as read, if it may not.
pub fn reminder_refusal(i: &Intervention, now: Timestamp) -> Option<ReminderRefusal> {
    remind(i, now).err()
}

fn explain_cancel(guard: &Guard, _: &Intervention) -> CancelRefusal {
    match guard {
        Guard::NotCancelled => CancelRefusal::AlreadyCancelled,
        Guard::LogHeadIs(_) => CancelRefusal::Moved,
        _ => CancelRefusal::TooLate,
    }
}

/// Cancelling the run at `now`: only while nothing answered it and the timeout was not queued. Decided
/// on the item as stored, but appended after the log's head as `read` (a quorum's votes move it).
pub fn cancel(read: &Intervention, now: Timestamp, operator: Option<&Operator>) -> Change<CancelRefusal> {
    let guards = vec![Guard::NotCancelled, Guard::NotTimedOut, Guard::Unanswered, Guard::log_head_of(read)];
    // An operator's cancel says who and why in its log entry: the audit trail is the decision log.
    let decided = Decided {
        by: operator.map(|o| o.by.clone()),
        reason: operator.and_then(|o| o.reason.clone()),
        ..Decided::default()
    };
    let effects = vec![Effect::Cancel(now), logged(read, EntryKind::Cancel, now, decided)];
    Change { guards, effects, at: now, explain: explain_cancel }
}

/// Whether a reminder recorded on `i` must no longer be sent: the run was cancelled (or is gone) after
/// it was recorded. The publisher parks it instead.
pub fn reminder_withdrawn(i: &Intervention) -> bool {
    !Guard::NotCancelled.holds(i) || !Guard::RunNotGone.holds(i)
}

/// Who acted on an intervention, and why: an operator's action, recorded in its decision log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Who (the IAM principal, or "local operator").
    pub by: String,
    /// Why, as they said.
    pub reason: Option<String>,
}

/// Longest operator name, in characters.
pub const MAX_OPERATOR_CHARS: usize = 256;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

impl Operator {
    /// Checks who and why: 1 to 256 and at most 500 characters, no control characters (a log line's
    /// text); the refusal names what is wrong.
    pub fn new(by: &str, reason: Option<&str>) -> Result<Self, String> {
        let printable = |text: &str| !text.chars().any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}');
        if by.trim().is_empty() || by.chars().count() > MAX_OPERATOR_CHARS || !printable(by) {
            return Err(format!(
                "by: the operator must be 1 to {MAX_OPERATOR_CHARS} characters, none of them a control character"
            ));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(reason) = reason {
            if reason.chars().count() > MAX_REASON_CHARS || !printable(reason) {
                return Err(format!("reason: at most {MAX_REASON_CHARS} characters, none of them a control character"));
            }
        }
        Ok(Self { by: by.to_owned(), reason: reason.map(str::to_owned) })
    }
}

#[cfg(test)]
mod tests;

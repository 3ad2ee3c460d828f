//! An operator's actions besides the cancel (expire now, re-send, extend), decided like any change: guards
//! on the intervention as stored, effects, and the action's decision log entry saying who, what and why.

use super::{logged, Change, Effect, Guard, Operator};
use crate::domain::ledger::{Decided, EntryKind};
use crate::domain::model::Intervention;
use crate::domain::time::Timestamp;

/// Why an operator's action changed nothing, each with the name the operator is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionRefusal {
    /// The run was cancelled (or is gone).
    Cancelled,
    /// The timeout continuation was queued.
    TimedOut,
    /// A submission was accepted, or the quorum decided (or every use was taken).
    Decided,
    /// The named reviewer answered already.
    ReviewerAnswered,
    /// The link has expired.
    Expired,
    /// The run can no longer be resumed.
    RunUnavailable,
    /// The run waiting on it is gone (Step Functions refused its token).
    RunGone,
    /// A new expiry not later than the current one.
    NotLater,
    /// A new expiry after the run can be resumed (`runAvailableUntil`).
    PastRunAvailability,
    /// A message would go on a channel this deployment does not configure.
    ChannelNotConfigured,
    /// No one pending has a channel to be sent the links on.
    NothingToSend,
    /// New links cannot be signed here (a deployment without the link keys).
    NoLinkKeys,
    /// Another decision was appended since the read: read again and decide again (never answered).
    Moved,
}

impl ActionRefusal {
    /// The refusal's name, as the operator's answer gives it (`error.code`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Decided => "already_decided",
            Self::ReviewerAnswered => "reviewer_answered",
            Self::Expired => "expired",
            Self::RunUnavailable => "run_unavailable",
            Self::RunGone => "run_gone",
            Self::NotLater => "not_later",
            Self::PastRunAvailability => "past_run_available_until",
            Self::ChannelNotConfigured => "channel_not_configured",
            Self::NothingToSend => "nothing_to_send",
            Self::NoLinkKeys => "no_link_keys",
            Self::Moved => "moved",
        }
    }

    /// What the operator reads.
    pub fn message(self) -> &'static str {
        match self {
            Self::Cancelled => "Too late: the intervention was cancelled.",
            Self::TimedOut => "Too late: the intervention timed out and its timeout continuation is queued.",
            Self::Decided => "Too late: the intervention was already decided (a response was accepted).",
            Self::ReviewerAnswered => "Too late: this reviewer has answered already.",
            Self::Expired => "Too late: the link has expired.",
            Self::RunUnavailable => "Too late: the run can no longer be resumed.",
            Self::RunGone => "Too late: the run waiting on the intervention is gone.",
            Self::NotLater => "expiresAt must be later than the intervention's current expiry.",
            Self::PastRunAvailability => "expiresAt must not be later than the run's runAvailableUntil.",
            Self::ChannelNotConfigured => "A reviewer's channel is not configured in this deployment.",
            Self::NothingToSend => "No pending reviewer has a channel to send the links on (no notify).",
            Self::NoLinkKeys => "New links cannot be signed here: this deployment has no link keys.",
            Self::Moved => "Another decision came first; try again.",
        }
    }
}

fn explain(guard: &Guard, _: &Intervention) -> ActionRefusal {
    match guard {
        Guard::NotCancelled => ActionRefusal::Cancelled,
        Guard::NotTimedOut => ActionRefusal::TimedOut,
        Guard::RunNotGone => ActionRefusal::RunGone,
        Guard::ReviewerAbsent(_) => ActionRefusal::ReviewerAnswered,
        Guard::LinkLiveAt(_) => ActionRefusal::Expired,
        Guard::RunAvailableAt(_) => ActionRefusal::RunUnavailable,
        Guard::LogHeadIs(_) => ActionRefusal::Moved,
        _ => ActionRefusal::Decided,
    }
}

/// The intervention still takes answers at `now`: its links are pending.
fn pending(read: &Intervention, now: Timestamp) -> Vec<Guard> {
    vec![
        Guard::NotCancelled,
        Guard::NotTimedOut,
        Guard::RunNotGone,
        Guard::Undecided,
        Guard::UsesLeft,
        Guard::LinkLiveAt(now),
        Guard::RunAvailableAt(now),
        Guard::log_head_of(read),
    ]
}

fn by(operator: &Operator) -> Decided {
    Decided { by: Some(operator.by.clone()), reason: operator.reason.clone(), ..Decided::default() }
}

/// Expiring now: the link ends at `now` as if its expiry had passed, and with a timeout continuation
/// (`continuation_id`: the intervention has `onTimeout`) it is queued as the timer would. Only while
/// nothing answered it (as the timeout), not cancelled, not timed out, not expired.
pub fn expire(
    read: &Intervention,
    continuation_id: Option<&str>,
    now: Timestamp,
    operator: &Operator,
) -> Change<ActionRefusal> {
    let guards = vec![
        Guard::NotCancelled,
        Guard::NotTimedOut,
        Guard::RunNotGone,
        Guard::Unanswered,
        Guard::LinkLiveAt(now),
        Guard::RunAvailableAt(now),
        Guard::log_head_of(read),
    ];
    let mut effects = vec![Effect::Expiry(now)];
    if let Some(id) = continuation_id {
        effects.extend([Effect::TimeOut(now), Effect::Answer(id.to_owned())]);
    }
    let decided = Decided { continuation_id: continuation_id.map(str::to_owned), ..by(operator) };
    effects.push(logged(read, EntryKind::Expire, now, decided));
    Change { guards, effects, at: now, explain }
}

/// Sending the links again at `now` (to the reviewer at `reviewer` alone, if named): only while pending
/// and, for a named reviewer, while they have not answered. Changes nothing but the log.
pub fn resend(
    read: &Intervention,
    reviewer: Option<usize>,
    now: Timestamp,
    operator: &Operator,
) -> Change<ActionRefusal> {
    let mut guards = pending(read, now);
    guards.extend(reviewer.map(Guard::ReviewerAbsent));
    let reviewer_id = reviewer.and_then(|index| read.reviewers.get(index)).map(|r| r.id.clone());
    let decided = Decided { reviewer_id, ..by(operator) };
    let effects = vec![logged(read, EntryKind::Resend, now, decided)];
    Change { guards, effects, at: now, explain }
}

/// Moving the expiry to `expires_at` at `now`: only while pending, and to an instant later than the
/// expiry read and no later than `runAvailableUntil` (refused before any write otherwise).
pub fn extend(
    read: &Intervention,
    expires_at: Timestamp,
    now: Timestamp,
    operator: &Operator,
) -> Result<Change<ActionRefusal>, ActionRefusal> {
    let guards = pending(read, now);
    let decided = Decided { expires_at: Some(expires_at), ..by(operator) };
    let effects = vec![Effect::Expiry(expires_at), logged(read, EntryKind::Extend, now, decided)];
    let change = Change { guards, effects, at: now, explain };
    match change.refusal(read) {
        Some(refusal) if refusal != ActionRefusal::Moved => Err(refusal),
        _ if expires_at <= read.expires_at => Err(ActionRefusal::NotLater),
        _ if expires_at > read.run_available_until => Err(ActionRefusal::PastRunAvailability),
        _ => Ok(change),
    }
}

//! The conditions under which a change of the intervention may apply, as values: evaluated here on the
//! intervention as read (and by the memory store under its lock), translated once for DynamoDB
//! (`aws::dynamo::conditions`), and pinned to each other by a test on the same items.

use crate::domain::model::{Intervention, Tally};
use crate::domain::task::{TaskStatus, TaskToken, TASK_CLAIM_MILLIS};
use crate::domain::time::Timestamp;

/// One condition on the stored intervention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The run was not cancelled.
    NotCancelled,
    /// The timeout continuation was not queued.
    NotTimedOut,
    /// Step Functions did not refuse the waiting run's token (the run is not gone).
    RunNotGone,
    /// The link has not expired at this instant.
    LinkLiveAt(Timestamp),
    /// The link has expired at this instant.
    LinkExpiredAt(Timestamp),
    /// The run can still be resumed at this instant.
    RunAvailableAt(Timestamp),
    /// Fewer submissions were accepted than allowed.
    UsesLeft,
    /// Exactly this many submissions were accepted.
    UsesAre(u32),
    /// The reviewer at this index has not submitted.
    ReviewerAbsent(usize),
    /// The quorum has not decided.
    Undecided,
    /// Nothing answered it: no use taken, or for a quorum no decision (its votes alone decide nothing).
    Unanswered,
    /// The votes counted are exactly these.
    TallyIs(Tally),
    /// The reminder was not queued.
    NotReminded,
    /// No decision was delivered to a waiting run.
    NotDelivered,
    /// A run waits on a token: attached, neither delivered to nor gone.
    TaskWaiting,
    /// No delivery claim younger than [`TASK_CLAIM_MILLIS`] at this instant.
    ClaimFreeAt(Timestamp),
    /// This token is the one attached.
    TokenIs(TaskToken),
    /// The decision log's head is the one read: its last entry's `seq` (`None`: no entry yet). Entries
    /// are never rewritten, so the `seq` names the digest too.
    LogHeadIs(Option<u64>),
}

impl Guard {
    /// Whether the condition holds on `intervention` (the live attributes included).
    pub fn holds(&self, intervention: &Intervention) -> bool {
        let i = intervention;
        match self {
            Self::NotCancelled => i.cancelled_at.is_none(),
            Self::NotTimedOut => i.timed_out_at.is_none(),
            Self::RunNotGone => !i.task.is_gone(),
            Self::LinkLiveAt(now) => *now < i.expires_at,
            Self::LinkExpiredAt(now) => i.expires_at <= *now,
            Self::RunAvailableAt(now) => *now < i.run_available_until,
            Self::UsesLeft => i.uses < i.max_uses,
            Self::UsesAre(uses) => i.uses == *uses,
            Self::ReviewerAbsent(index) => !i.reviewed.contains(index),
            Self::Undecided => i.decision.is_none(),
            Self::Unanswered => !i.answered(),
            Self::TallyIs(tally) => i.tally == *tally,
            Self::NotReminded => i.reminded_at.is_none(),
            Self::NotDelivered => !matches!(i.task, TaskStatus::Delivered { .. }),
            Self::TaskWaiting => matches!(i.task, TaskStatus::Waiting { .. }),
            Self::ClaimFreeAt(now) => match &i.task {
                TaskStatus::Waiting { claimed_at: Some(at), .. } => at.plus_millis(TASK_CLAIM_MILLIS) <= *now,
                _ => true,
            },
            Self::TokenIs(token) => matches!(&i.task, TaskStatus::Waiting { token: t, .. } if t == token),
            Self::LogHeadIs(seq) => i.log_head.as_ref().map(|h| h.seq) == *seq,
        }
    }

    /// The guards under which a submission (or a vote) through `reviewer`'s link may be accepted at `now`:
    /// the link live and, for a quorum, undecided on exactly the `tally` and the decision log's head read.
    pub fn for_submission(i: &Intervention, reviewer: Option<usize>, now: Timestamp) -> Vec<Guard> {
        Self::submission_guards(i, reviewer, now).collect()
    }

    /// [`Guard::for_submission`]'s guards in their order, without a list (a page view checks them).
    pub fn submission_guards(i: &Intervention, reviewer: Option<usize>, now: Timestamp) -> impl Iterator<Item = Guard> {
        let quorum = i.quorum.is_some();
        let tally = i.tally;
        // A vote is ordered on the intervention's chain; a link's submission has a lane of its own.
        let head = quorum.then(|| Self::log_head_of(i));
        quorum
            .then_some(Self::Undecided)
            .into_iter()
            .chain(Self::live_at(now))
            .chain([Self::UsesLeft])
            .chain(reviewer.map(Self::ReviewerAbsent))
            .chain(quorum.then_some(Self::TallyIs(tally)))
            .chain(head)
    }

    /// The decision log's head as `i` was read: a decision appends right after it, or not at all.
    pub fn log_head_of(i: &Intervention) -> Guard {
        Self::LogHeadIs(i.log_head.as_ref().map(|h| h.seq))
    }

    /// The link takes answers at `now`: not cancelled, not timed out, its run not gone, not expired.
    pub fn live_at(now: Timestamp) -> [Guard; 5] {
        [Self::NotCancelled, Self::NotTimedOut, Self::RunNotGone, Self::LinkLiveAt(now), Self::RunAvailableAt(now)]
    }
}

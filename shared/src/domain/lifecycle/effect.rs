//! What a change does to the intervention: applied here to the Rust value (the memory store's write),
//! translated once for DynamoDB (`aws::dynamo::conditions::update`).

use crate::domain::id::SubmissionId;
use crate::domain::ledger::Entry;
use crate::domain::model::{Decision, Intervention, Tally};
use crate::domain::task::{TaskStatus, TaskToken};
use crate::domain::time::Timestamp;

/// What a change does to the intervention when its guards hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// One more accepted submission.
    CountUse,
    /// The reviewer at `index` has submitted (under `submission_id`).
    MarkReviewer {
        /// Index into the reviewers.
        index: usize,
        /// The submission's id.
        submission_id: SubmissionId,
    },
    /// The votes counted become `tally` (one vote more than the tally guarded).
    CountVote {
        /// Whether the vote approves.
        approve: bool,
        /// The tally after the vote.
        tally: Tally,
    },
    /// The quorum decided.
    Decide(Decision),
    /// The first answer (the continuation a waiting run gets), unless one was recorded before.
    Answer(String),
    /// The timeout continuation was queued.
    TimeOut(Timestamp),
    /// The reminder was queued.
    Remind(Timestamp),
    /// The run was cancelled (the first instant stays).
    Cancel(Timestamp),
    /// The link's expiry moves to this instant (an operator's expire now, or extend).
    Expiry(Timestamp),
    /// A waiting run's token, replacing an earlier one and any claim or refusal.
    Attach {
        /// The token.
        token: TaskToken,
        /// When.
        at: Timestamp,
    },
    /// A publisher claims the delivery.
    Claim(Timestamp),
    /// The run took this continuation; the token is dropped.
    Delivered {
        /// The continuation delivered.
        continuation_id: String,
        /// When.
        at: Timestamp,
    },
    /// Step Functions refused the token for good; the token is dropped.
    Gone {
        /// Its error code.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// The claim is let go (the delivery may be tried again).
    Release,
    /// An answer left and its reply was lost: `retry` keeps the token for another attempt (the claim let
    /// go); otherwise a refusal came after such an attempt and the delivery ends, the token dropped.
    Unconfirmed {
        /// The continuation sent.
        continuation_id: String,
        /// When.
        at: Timestamp,
        /// Whether another attempt may be made.
        retry: bool,
    },
    /// The decision's entry appended to the intervention's decision log: the head moves to it (an entry in
    /// a lane of its own leaves the head where it is).
    Append(Box<Entry>),
}

impl Effect {
    /// Applies the effect to an intervention in memory (the memory store's write, and the model's).
    pub fn apply(&self, i: &mut Intervention) {
        match self {
            Self::CountUse => i.uses += 1,
            Self::MarkReviewer { index, .. } => i.reviewed.push(*index),
            Self::CountVote { tally, .. } => i.tally = *tally,
            Self::Decide(decision) => i.decision = Some(decision.clone()),
            Self::Answer(id) => {
                i.first_answer.get_or_insert_with(|| id.clone());
            }
            Self::TimeOut(at) => i.timed_out_at = Some(*at),
            Self::Remind(at) => i.reminded_at = Some(*at),
            Self::Cancel(at) => {
                i.cancelled_at.get_or_insert(*at);
            }
            Self::Expiry(at) => i.expires_at = *at,
            Self::Attach { token, at } => {
                i.task = TaskStatus::Waiting { attached_at: *at, token: token.clone(), claimed_at: None, lost: None }
            }
            Self::Claim(at) => {
                if let TaskStatus::Waiting { claimed_at, .. } = &mut i.task {
                    *claimed_at = Some(*at);
                }
            }
            Self::Release => {
                if let TaskStatus::Waiting { claimed_at, .. } = &mut i.task {
                    *claimed_at = None;
                }
            }
            Self::Delivered { continuation_id, at } => {
                i.task = TaskStatus::Delivered { continuation_id: continuation_id.clone(), at: *at }
            }
            Self::Gone { reason, at } => i.task = TaskStatus::Gone { reason: reason.clone(), at: *at },
            Self::Unconfirmed { continuation_id, at, retry: true } => {
                if let TaskStatus::Waiting { claimed_at, lost, .. } = &mut i.task {
                    *claimed_at = None;
                    *lost = Some((continuation_id.clone(), *at));
                }
            }
            Self::Unconfirmed { continuation_id, at, retry: false } => {
                i.task = TaskStatus::Unconfirmed { continuation_id: continuation_id.clone(), at: *at }
            }
            Self::Append(entry) if entry.lane.is_none() => i.log_head = Some(entry.head()),
            Self::Append(_) => {}
        }
    }
}

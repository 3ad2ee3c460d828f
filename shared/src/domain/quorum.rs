//! A quorum of named reviewers: each submission is a vote, the intervention completes when enough
//! approved or that became impossible.

use serde::{Deserialize, Serialize};

use crate::domain::context::ContextKey;
use crate::domain::id::SubmissionId;
use crate::domain::time::Timestamp;
use crate::domain::verdict::Verdict;

/// A quorum of named reviewers: each submission is a vote, the intervention completes when `approvals`
/// approved or that became impossible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quorum {
    /// Approvals that decide.
    pub approvals: u32,
    /// The form's choice field that carries the vote.
    pub field: ContextKey,
    /// Its option that approves.
    pub approve: String,
    /// Its option that rejects.
    pub reject: String,
}

/// The votes counted so far (live attributes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Approving votes.
    pub approvals: u32,
    /// Rejecting votes.
    pub rejections: u32,
}

/// How and when a quorum decided (live attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The outcome.
    pub verdict: Verdict,
    /// The deciding vote's submission id (its continuation is the one).
    pub submission_id: SubmissionId,
    /// When.
    pub at: Timestamp,
}

impl Quorum {
    /// What a vote (approving or not) decides on top of `tally`, with `reviewers` reviewers in all.
    pub fn decides(&self, reviewers: u32, tally: Tally, approve: bool) -> Option<Verdict> {
        let (approvals, rejections) =
            if approve { (tally.approvals + 1, tally.rejections) } else { (tally.approvals, tally.rejections + 1) };
        if approvals >= self.approvals {
            Some(Verdict::Approved)
        } else if approvals + reviewers.saturating_sub(approvals + rejections) < self.approvals {
            Some(Verdict::Rejected)
        } else {
            None
        }
    }
}

//! The stored intervention and its submissions, and the state a reviewer's request finds them in.

use serde::{Deserialize, Serialize};

use crate::domain::context::{Context, ContextKey};
use crate::domain::form::FormDocument;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::ledger::Head;
pub use crate::domain::lifecycle::refusals::{ReminderRefusal, TimeoutRefusal};
pub use crate::domain::quorum::{Decision, Quorum, Tally};
pub use crate::domain::reviewers::Reviewer;
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;

/// Where the run's usage is counted: Shared and Free count resumed runs against a monthly allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    /// A dedicated environment: not counted.
    Dedicated,
    /// A shared environment: counted.
    Shared,
    /// A free environment: counted.
    Free,
}

impl Tier {
    /// Whether a resumed run counts against the environment's monthly run allowance.
    pub fn counts_against_allowance(self) -> bool {
        !matches!(self, Self::Dedicated)
    }
}

/// What to queue when the link expires unanswered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnTimeout {
    /// The rule set queued on timeout.
    pub rule_set_id: String,
    /// Values laid over the run context in the timeout continuation.
    #[serde(default)]
    pub context: Context,
}

/// A reminder before the link runs out: queued once, at `at`, if the intervention is still pending then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remind {
    /// When it is due (createdAt + `remind.after` hours; before the link's expiry).
    pub at: Timestamp,
    /// The reviewers reminded (ids of `reviewers`, never the requester), in the input's order.
    pub to: Vec<String>,
    /// The rule set the reminder is queued with.
    pub rule_set_id: String,
    /// Each reminded reviewer's link, signed at creation (the timeout function has no keys).
    pub links: Vec<String>,
}

/// A pending (or finished) intervention as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intervention {
    /// The intervention's id (also in its link).
    pub id: InterventionId,
    /// The environment the run belongs to.
    pub environment_id: String,
    /// The environment's tier.
    pub tier: Tier,
    /// The run's correlation id.
    pub correlation_id: String,
    /// The rule set queued on submission.
    pub rule_set_id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// When the run can no longer be resumed.
    pub run_available_until: Timestamp,
    /// When the run was cancelled, if it was.
    pub cancelled_at: Option<Timestamp>,
    /// When the timeout continuation was queued, if it was.
    #[serde(default)]
    pub timed_out_at: Option<Timestamp>,
    /// Accepted submissions allowed.
    pub max_uses: u32,
    /// Accepted submissions so far.
    pub uses: u32,
    /// The form, if any.
    pub form: Option<std::sync::Arc<FormDocument>>,
    /// The run's context.
    pub context: Context,
    /// Keys whose values are never shown or logged.
    pub secret_keys: Vec<ContextKey>,
    /// The thing to be approved (a JSON object), shown on the page and bound into every continuation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    /// The digest every continuation carries (`proof::decision_digest` of `action` and the presented
    /// document): both are fixed at creation, so it is computed once, then; absent on interventions
    /// created before it was kept (computed when needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_digest: Option<String>,
    /// The presented document (`proof::shown`), as written at creation: never stored, so an intervention
    /// read back from a table has none and writes it again from its form and context.
    #[serde(skip)]
    pub kept_shown: Option<crate::domain::canonical::Document>,
    /// What to queue when the link expires unanswered.
    pub on_timeout: Option<OnTimeout>,
    /// Digest of the creation input, to tell a retry of the creation from another input (absent on
    /// interventions created before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_fingerprint: Option<String>,
    /// Where the single link is sent, if the product sends it (reviewers have their own `notify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::domain::notify::Notify>,
    /// The named reviewers, each with a link of their own (none: one link with `max_uses` uses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<Reviewer>,
    /// The indexes (into `reviewers`) of the reviewers whose submission was accepted: live attributes,
    /// never in the stored document.
    #[serde(skip)]
    pub reviewed: Vec<usize>,
    /// The reviewer who requested the intervention, if named: their link is never issued (no self-approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The quorum, if the reviewers vote (requires reviewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Quorum>,
    /// The votes counted (live attributes).
    #[serde(skip)]
    pub tally: Tally,
    /// The quorum's decision, once made (live attributes).
    #[serde(skip)]
    pub decision: Option<Decision>,
    /// Where the delivery to a waiting run stands: live attributes, never in the stored document.
    #[serde(skip)]
    pub task: TaskStatus,
    /// The reminder, if one was asked for (requires reviewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind: Option<Remind>,
    /// When the reminder was queued, if it was (live attributes).
    #[serde(skip)]
    pub reminded_at: Option<Timestamp>,
    /// The id of the first answer's continuation (a submission's, the quorum's decision, or the timeout):
    /// the one a waiting run gets (live attributes; absent on items written before it was kept).
    #[serde(skip)]
    pub first_answer: Option<String>,
    /// The head of the intervention's decision log (`domain::ledger`): its last entry, `None` before the
    /// first (live attributes).
    #[serde(skip)]
    pub log_head: Option<Head>,
}

impl Intervention {
    /// The reviewers who may answer: every named reviewer but the one who requested it.
    pub fn voters(&self) -> u32 {
        let requester = self.requested_by.as_deref().map_or(0, |r| usize::from(self.reviewer_index(r).is_some()));
        (self.reviewers.len() - requester) as u32
    }

    /// Whether the reviewer at `index` is the one who requested the intervention (their link is not issued).
    pub fn is_requester(&self, index: usize) -> bool {
        self.requested_by.is_some() && self.reviewers.get(index).map(|r| &r.id) == self.requested_by.as_ref()
    }

    /// The index of the reviewer with this id.
    pub fn reviewer_index(&self, id: &str) -> Option<usize> {
        self.reviewers.iter().position(|r| r.id == id)
    }

    /// Whether a continuation was queued for an answer (a submission, or a quorum's decision): then a
    /// cancel is too late and the timeout does nothing.
    pub fn answered(&self) -> bool {
        match self.quorum {
            Some(_) => self.decision.is_some(),
            None => self.uses > 0,
        }
    }

    /// The state an operator reads.
    pub fn state_at(&self, now: Timestamp) -> InterventionState {
        // A gone run leaves no use to take: like a cancel, unless the link was used up, decided or timed out.
        if self.cancelled_at.is_some()
            || (self.task.is_gone()
                && self.timed_out_at.is_none()
                && self.decision.is_none()
                && self.uses < self.max_uses)
        {
            InterventionState::Cancelled
        } else if self.timed_out_at.is_some() {
            InterventionState::TimedOut
        } else if self.decision.is_some() || self.uses >= self.max_uses {
            InterventionState::Completed
        } else if now >= self.expires_at || now >= self.run_available_until {
            InterventionState::Expired
        } else {
            InterventionState::Pending
        }
    }
}

/// Where an intervention stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InterventionState {
    /// The link is live.
    Pending,
    /// Every allowed submission was accepted.
    Completed,
    /// The link expired (or the run's availability ended).
    Expired,
    /// The run was cancelled.
    Cancelled,
    /// The link expired unanswered and the timeout continuation was queued.
    TimedOut,
}

/// An accepted submission: the reviewer's checked input, and the outbox entry its continuation comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// The intervention it was made on.
    pub intervention_id: InterventionId,
    /// The id that makes a repeated post the same submission.
    pub submission_id: SubmissionId,
    /// When it was accepted.
    pub submitted_at: Timestamp,
    /// The reviewer's input: only the form's fields.
    pub input: Context,
    /// Digest of the posted field values, to tell a repeat from a conflicting resubmission.
    pub fingerprint: String,
    /// The reviewer whose link it came through (absent without reviewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<String>,
}

impl Submission {
    /// A submission with no input, to measure what a continuation of `intervention_id` weighs at least.
    pub fn probe(intervention_id: InterventionId) -> Self {
        Self {
            intervention_id,
            submission_id: SubmissionId::probe(),
            submitted_at: Timestamp::from_millis(0),
            input: Context::default(),
            fingerprint: String::new(),
            reviewer_id: None,
        }
    }

    /// The continuation's stable id: `<interventionId>:<submissionId>`.
    pub fn continuation_id(&self) -> String {
        format!("{}:{}", self.intervention_id, self.submission_id)
    }
}

impl InterventionState {
    /// Parses the name used in the record routes (`pending`, `completed`, `expired`, `cancelled`, `timedOut`).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }
}

impl Intervention {
    /// Whether nothing more can be accepted: a quorum decided, or every use was taken.
    pub fn completed(&self) -> bool {
        self.decision.is_some() || self.uses >= self.max_uses
    }

    /// The reminded reviewers who have not answered yet, with their links: (index into `reviewers`, link).
    pub fn pending_reminded(&self) -> Vec<(usize, &str)> {
        let Some(remind) = &self.remind else { return Vec::new() };
        remind
            .to
            .iter()
            .zip(&remind.links)
            .filter_map(|(id, link)| self.reviewer_index(id).map(|index| (index, link.as_str())))
            .filter(|(index, _)| !self.reviewed.contains(index))
            .collect()
    }
}

//! The continuation message: what the workflow engine reads from the queue to resume the run.

use serde::{Deserialize, Serialize};

use crate::domain::context::Context;
use crate::domain::id::{InterventionId, SubmissionId, TIMEOUT_SUFFIX};
use crate::domain::model::{Intervention, Submission};

/// How the intervention ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A reviewer's submission was accepted.
    Submitted,
    /// The link expired unanswered.
    TimedOut,
}

/// The SQS body (version 1); `id` is stable, so a redelivery is recognisable as the same continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Continuation {
    /// Always 1.
    pub version: u32,
    /// `<interventionId>:<submissionId>` (or `<interventionId>:timeout`).
    pub id: String,
    /// How the intervention ended.
    pub outcome: Outcome,
    /// The run's environment.
    pub environment_id: String,
    /// The run's correlation id.
    pub correlation_id: String,
    /// The rule set to run.
    pub rule_set_id: String,
    /// The intervention.
    pub intervention_id: String,
    /// The submission, for a submitted outcome.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub submission_id: Option<String>,
    /// When the submission was accepted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub submitted_at: Option<String>,
    /// Whether the resumed run counts against the environment's monthly allowance.
    pub counts_against_allowance: bool,
    /// The run's context merged with the reviewer's input, the input winning.
    pub context: Context,
}

impl Continuation {
    /// The continuation of an accepted submission.
    pub fn for_submission(intervention: &Intervention, submission: &Submission) -> Self {
        Self {
            version: 1,
            id: submission.continuation_id(),
            outcome: Outcome::Submitted,
            environment_id: intervention.environment_id.clone(),
            correlation_id: intervention.correlation_id.clone(),
            rule_set_id: intervention.rule_set_id.clone(),
            intervention_id: intervention.id.to_string(),
            submission_id: Some(submission.submission_id.to_string()),
            submitted_at: Some(submission.submitted_at.to_rfc3339()),
            counts_against_allowance: intervention.tier.counts_against_allowance(),
            context: intervention.context.merged(&submission.input),
        }
    }

    /// The stable id of an intervention's timeout continuation.
    pub fn timeout_id(intervention: &Intervention) -> String {
        format!("{}:{TIMEOUT_SUFFIX}", intervention.id)
    }

    /// The continuation queued when the link expired unanswered, or `None` without `onTimeout`.
    pub fn for_timeout(intervention: &Intervention) -> Option<Self> {
        let on_timeout = intervention.on_timeout.as_ref()?;
        Some(Self {
            version: 1,
            id: Self::timeout_id(intervention),
            outcome: Outcome::TimedOut,
            environment_id: intervention.environment_id.clone(),
            correlation_id: intervention.correlation_id.clone(),
            rule_set_id: on_timeout.rule_set_id.clone(),
            intervention_id: intervention.id.to_string(),
            submission_id: None,
            submitted_at: None,
            counts_against_allowance: intervention.tier.counts_against_allowance(),
            context: intervention.context.merged(&on_timeout.context),
        })
    }
}

/// Where a continuation came from, as its id says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An accepted submission.
    Submission(SubmissionId),
    /// The intervention's timeout.
    Timeout,
}

/// Reads a continuation id (`<interventionId>:<submissionId>` or `<interventionId>:timeout`); `None` for
/// anything else.
pub fn parse_id(id: &str) -> Option<(InterventionId, Origin)> {
    let (intervention, rest) = id.split_once(':')?;
    let origin = if rest == TIMEOUT_SUFFIX { Origin::Timeout } else { Origin::Submission(SubmissionId::parse(rest)?) };
    Some((InterventionId::parse(intervention)?, origin))
}

//! The continuation message: what the workflow engine reads from the queue to resume the run, and what
//! makes it sendable (SQS's characters and size).

use serde::{Deserialize, Serialize};

use crate::domain::context::{Context, ContextKey};
use crate::domain::id::{InterventionId, SubmissionId, REMINDER_SUFFIX, TIMEOUT_SUFFIX};
use crate::domain::model::{Intervention, Submission};
use crate::domain::proof::receipt::Receipt;
use crate::domain::proof::{self, Change, Shown};

mod sqs;

pub use crate::domain::verdict::Verdict;
pub use sqs::{is_sendable, MAX_MESSAGE_BYTES};

/// How the intervention ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A reviewer's submission was accepted.
    Submitted,
    /// The link expired unanswered.
    TimedOut,
    /// The quorum's approvals were reached.
    Approved,
    /// The quorum's approvals could no longer be reached.
    Rejected,
    /// Not an end: the intervention is still pending at its reminder time (`pendingReviewers` say who).
    Reminder,
}

/// A reminded reviewer who has not answered yet, as a reminder lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingReviewer {
    /// The reviewer's id.
    pub reviewer_id: String,
    /// Their name.
    pub name: String,
    /// Their own link (the one the creation output gave them).
    pub link: String,
}

/// One reviewer's vote, as the deciding continuation lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// The reviewer.
    pub reviewer_id: String,
    /// The value of the quorum's field (its `approve` or `reject` option).
    pub decision: String,
    /// When the vote was accepted (RFC 3339).
    pub submitted_at: String,
    /// The reviewer's input (the form's fields).
    pub input: Context,
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
    /// The reviewer whose submission it is (a named reviewer's link only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reviewer_id: Option<String>,
    /// Whether the resumed run counts against the environment's monthly allowance.
    pub counts_against_allowance: bool,
    /// The run's context merged with the reviewer's input, the input winning.
    pub context: Context,
    /// A quorum's decision: every vote, oldest first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub votes: Option<Vec<Vote>>,
    /// A reminder's reminded reviewers who have not answered yet, with their links.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pending_reviewers: Option<Vec<PendingReviewer>>,
    /// The thing to be approved, as the link-creation input gave it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<serde_json::Value>,
    /// The document every reviewer was shown (`proof::shown`).
    #[serde(skip_serializing_if = "Shown::is_absent", default)]
    pub shown: Shown,
    /// `sha256:` of the canonical JSON of `{action, shown}`: what was decided on, for a consumer to check.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub digest: String,
    /// The proposed values the reviewer changed (an answer's continuation only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub changes: Option<Vec<Change>>,
    /// The publisher's signature over everything else (absent until published).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub receipt: Option<Receipt>,
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
            reviewer_id: submission.reviewer_id.clone(),
            counts_against_allowance: intervention.tier.counts_against_allowance(),
            context: intervention.context.merged(&submission.input),
            votes: None,
            pending_reviewers: None,
            changes: Some(proof::changes(intervention, submission)),
            ..Self::shown_to_reviewers(intervention)
        }
    }

    /// The parts every continuation of `intervention` shares: its action, what was shown, and their digest.
    fn shown_to_reviewers(intervention: &Intervention) -> Self {
        let shown = proof::shown(intervention);
        Self {
            version: 1,
            id: String::new(),
            outcome: Outcome::Reminder,
            environment_id: String::new(),
            correlation_id: String::new(),
            rule_set_id: String::new(),
            intervention_id: String::new(),
            submission_id: None,
            submitted_at: None,
            reviewer_id: None,
            counts_against_allowance: false,
            context: Context::default(),
            votes: None,
            pending_reviewers: None,
            digest: proof::intervention_digest(intervention, &shown),
            action: intervention.action.clone(),
            shown,
            changes: None,
            receipt: None,
        }
    }

    /// The one continuation of a quorum, queued with the deciding vote `deciding`: its id and context are
    /// the deciding submission's; `votes` are every vote counted (the deciding one included), oldest first.
    pub fn for_decision(
        intervention: &Intervention,
        deciding: &Submission,
        votes: &[Submission],
        field: &ContextKey,
        verdict: Verdict,
    ) -> Self {
        Self::for_submission(intervention, deciding).deciding(votes, field, verdict)
    }

    /// This continuation of the deciding vote (see [`Self::for_submission`]) made the quorum's decision
    /// ([`Self::for_decision`]): a vote's request builds the presented document once.
    pub fn deciding(self, votes: &[Submission], field: &ContextKey, verdict: Verdict) -> Self {
        let mut continuation = self;
        continuation.outcome = match verdict {
            Verdict::Approved => Outcome::Approved,
            Verdict::Rejected => Outcome::Rejected,
        };
        let mut votes: Vec<&Submission> = votes.iter().collect();
        votes.sort_by(|a, b| (a.submitted_at, &a.submission_id).cmp(&(b.submitted_at, &b.submission_id)));
        continuation.votes = Some(
            votes
                .into_iter()
                .map(|vote| Vote {
                    reviewer_id: vote.reviewer_id.clone().unwrap_or_default(),
                    decision: vote.input.get(field).map(|v| v.display_parts().join(",")).unwrap_or_default(),
                    submitted_at: vote.submitted_at.to_rfc3339(),
                    input: vote.input.clone(),
                })
                .collect(),
        );
        continuation
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
            reviewer_id: None,
            counts_against_allowance: intervention.tier.counts_against_allowance(),
            context: intervention.context.merged(&on_timeout.context),
            votes: None,
            pending_reviewers: None,
            ..Self::shown_to_reviewers(intervention)
        })
    }

    /// The stable id of an intervention's reminder.
    pub fn reminder_id(intervention: &Intervention) -> String {
        format!("{}:{REMINDER_SUFFIX}", intervention.id)
    }

    /// The reminder message of an intervention as it stands (its reminded reviewers who have not answered),
    /// or `None` without `remind`. The run's context as it was; never counted against the allowance.
    pub fn for_reminder(intervention: &Intervention) -> Option<Self> {
        let remind = intervention.remind.as_ref()?;
        let pending = intervention
            .pending_reminded()
            .into_iter()
            .map(|(index, link)| PendingReviewer {
                reviewer_id: intervention.reviewers[index].id.clone(),
                name: intervention.reviewers[index].name.clone(),
                link: link.to_owned(),
            })
            .collect();
        Some(Self {
            version: 1,
            id: Self::reminder_id(intervention),
            outcome: Outcome::Reminder,
            environment_id: intervention.environment_id.clone(),
            correlation_id: intervention.correlation_id.clone(),
            rule_set_id: remind.rule_set_id.clone(),
            intervention_id: intervention.id.to_string(),
            submission_id: None,
            submitted_at: None,
            reviewer_id: None,
            counts_against_allowance: false,
            context: intervention.context.clone(),
            votes: None,
            pending_reviewers: Some(pending),
            ..Self::shown_to_reviewers(intervention)
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
    /// The intervention's reminder.
    Reminder,
}

/// Reads a continuation id (`<interventionId>:<submissionId>`, `<interventionId>:timeout` or
/// `<interventionId>:reminder`); `None` for anything else.
pub fn parse_id(id: &str) -> Option<(InterventionId, Origin)> {
    let (intervention, rest) = id.split_once(':')?;
    let origin = match rest {
        TIMEOUT_SUFFIX => Origin::Timeout,
        REMINDER_SUFFIX => Origin::Reminder,
        _ => Origin::Submission(SubmissionId::parse(rest)?),
    };
    Some((InterventionId::parse(intervention)?, origin))
}

/// Puts an intervention's continuations in the one order every store answers with: the answers first
/// (submissions by when they were accepted, then the timeout, which excludes them), the reminder (no
/// answer) last.
pub fn recorded_order(continuations: &mut [Continuation]) {
    continuations.sort_by(|a, b| {
        let rank = |c: &Continuation| match c.outcome {
            Outcome::Reminder => 2,
            Outcome::TimedOut => 1,
            _ => 0,
        };
        (rank(a), &a.submitted_at, &a.id).cmp(&(rank(b), &b.submitted_at, &b.id))
    });
}

/// A submitted continuation whose context holds only `note`, for the tests of what carries one.
#[cfg(test)]
impl Continuation {
    pub(crate) fn with_note(submission_id: &str, note: &str) -> Self {
        let mut context = Context::default();
        context.insert(ContextKey::parse("note").unwrap(), crate::domain::context::ContextValue::string(note));
        Self {
            version: 1,
            id: format!("AAAAAAAAAAAAAAAAAAAAAA:{submission_id}"),
            outcome: Outcome::Submitted,
            environment_id: "env".into(),
            correlation_id: "run".into(),
            rule_set_id: "next".into(),
            intervention_id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            submission_id: Some(submission_id.into()),
            submitted_at: Some("2026-11-25T10:00:00.000Z".into()),
            reviewer_id: None,
            counts_against_allowance: false,
            context,
            votes: None,
            pending_reviewers: None,
            action: None,
            shown: Shown::default(),
            digest: String::new(),
            changes: None,
            receipt: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::context::ContextValue;
    use crate::domain::proof::receipt::RECEIPT_RESERVE_BYTES;

    fn continuation(text: &str) -> Continuation {
        Continuation::with_note("s1", text)
    }

    #[test]
    fn sqs_refused_characters_are_escaped_and_decode_to_what_was_typed() {
        let typed = "a\u{FFFF}b\u{FFFE}c\u{1F600}d\u{0}e\u{7}\u{D7FF}\u{E000}";
        let c = continuation(typed);
        let body = c.message_body().unwrap();
        assert!(body.chars().all(is_sendable), "{body:?}");
        assert!(body.contains("\\uFFFF") && body.contains("\\uFFFE") && body.contains('\u{1F600}'), "{body}");
        let back: Continuation = serde_json::from_str(&body).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.context.get(&ContextKey::parse("note").unwrap()), Some(&ContextValue::string(typed)));
    }

    #[test]
    fn the_sendable_set_is_sqs_s() {
        for ok in ['\t', '\n', '\r', ' ', '\u{D7FF}', '\u{E000}', '\u{FFFD}', '\u{10000}', '\u{10FFFF}'] {
            assert!(is_sendable(ok), "{ok:?}");
        }
        for refused in ['\u{0}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_sendable(refused), "{refused:?}");
        }
    }

    #[test]
    fn message_bytes_count_the_body_and_every_attribute() {
        let c = continuation("x");
        let attributes =
            "correlationId".len() + 6 + 3 + "environmentId".len() + 6 + 3 + "continuationId".len() + 6 + 25;
        assert_eq!(c.message_bytes().unwrap(), c.message_body().unwrap().len() + attributes + RECEIPT_RESERVE_BYTES);
        // Characters SQS refuses count as their escapes, as the body writes them.
        let odd = continuation("a\u{FFFF}b\u{FFFE}é\u{1F600}\u{1}c");
        assert!(odd.message_body().unwrap().contains("\\uFFFE"));
        assert_eq!(
            odd.message_bytes().unwrap(),
            odd.message_body().unwrap().len() + attributes + RECEIPT_RESERVE_BYTES
        );
    }
}

//! The continuation message: what the workflow engine reads from the queue to resume the run, and what
//! makes it sendable (SQS's characters and size).

use serde::{Deserialize, Serialize};

use crate::domain::context::{Context, ContextKey};
use crate::domain::id::{InterventionId, SubmissionId, REMINDER_SUFFIX, TIMEOUT_SUFFIX};
use crate::domain::model::{Intervention, Submission};
use crate::domain::proof::receipt::{Receipt, RECEIPT_RESERVE_BYTES};
use crate::domain::proof::{self, Change};
pub use crate::domain::verdict::Verdict;

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
    #[serde(skip_serializing_if = "serde_json::Value::is_null", default)]
    pub shown: serde_json::Value,
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

/// Largest continuation message: its body, attribute names, types and values together, in bytes. SQS's
/// message limit as every queue allows it by default (256 KiB); also the batch limit, so a message that
/// fits can always be sent, alone if need be. The submission item that carries it (with the reviewer's
/// input, at most twice the 64 KiB body as JSON) then stays within DynamoDB's 400 KB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The characters SQS accepts in a message body or attribute value: `#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF`.
pub fn is_sendable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// The data type every continuation attribute is sent with.
const ATTRIBUTE_TYPE: &str = "String";

impl Continuation {
    /// The message body: this continuation's JSON, with every character SQS refuses written as a JSON
    /// escape (`\uFFFF`), so the body is always sendable and a consumer decodes exactly what was typed.
    pub fn message_body(&self) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(self)?;
        if json.chars().all(is_sendable) {
            return Ok(json);
        }
        // Outside strings JSON is ASCII, so every such character is inside a string, where an escape
        // means the same character. serde_json already escapes the control characters.
        let mut body = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            if is_sendable(c) {
                body.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    body.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        Ok(body)
    }

    /// The message attributes, name and value: consumers route and de-duplicate on them without
    /// reading the body. Every value is made of ids refused at creation unless sendable.
    pub fn message_attributes(&self) -> [(&'static str, &str); 3] {
        [
            ("correlationId", self.correlation_id.as_str()),
            ("environmentId", self.environment_id.as_str()),
            ("continuationId", self.id.as_str()),
        ]
    }

    /// Why SQS would refuse this message for good, if it would: over [`MAX_MESSAGE_BYTES`], or an
    /// attribute with a character outside SQS's set (the body never has one: see [`Self::message_body`]).
    pub fn unsendable(&self) -> Option<String> {
        if let Some((name, _)) = self.message_attributes().iter().find(|(_, v)| !v.chars().all(is_sendable)) {
            return Some(format!("the {name} attribute has a character SQS refuses"));
        }
        match self.message_bytes() {
            Ok(bytes) if bytes > MAX_MESSAGE_BYTES => {
                Some(format!("the message is {bytes} bytes; SQS takes at most {MAX_MESSAGE_BYTES}"))
            }
            Ok(_) => None,
            Err(error) => Some(format!("the continuation is not JSON: {error}")),
        }
    }

    /// The bytes SQS counts for this message (body, and each attribute's name, type and value); before it is
    /// signed, with room for its receipt, so what fits now still fits when the publisher signs it.
    pub fn message_bytes(&self) -> Result<usize, serde_json::Error> {
        let attributes: usize =
            self.message_attributes().iter().map(|(name, value)| name.len() + ATTRIBUTE_TYPE.len() + value.len()).sum();
        // Counted as serde_json writes it: every submission asks, and the body itself is not needed here.
        let mut body = BodyLength { bytes: 0, split: false };
        serde_json::to_writer(&mut body, self)?;
        let body = if body.split { self.message_body()?.len() } else { body.bytes };
        let receipt = if self.receipt.is_none() { RECEIPT_RESERVE_BYTES } else { 0 };
        Ok(body + attributes + receipt)
    }
}

/// The length [`Continuation::message_body`] would have: each character SQS refuses counts as its
/// `\uXXXX` escapes. serde_json writes whole characters in each call; `split` says if one was not.
struct BodyLength {
    bytes: usize,
    split: bool,
}

impl std::io::Write for BodyLength {
    fn write(&mut self, written: &[u8]) -> std::io::Result<usize> {
        // ASCII is sendable as written: serde_json escapes the control characters SQS refuses.
        if written.is_ascii() {
            self.bytes += written.len();
            return Ok(written.len());
        }
        self.bytes += match std::str::from_utf8(written) {
            Ok(text) => text.chars().map(|c| if is_sendable(c) { c.len_utf8() } else { 6 * c.len_utf16() }).sum(),
            Err(_) => {
                self.split = true;
                written.len()
            }
        };
        Ok(written.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::context::ContextValue;

    fn continuation(text: &str) -> Continuation {
        let mut context = Context::default();
        context.insert(ContextKey::parse("note").unwrap(), ContextValue::string(text));
        Continuation {
            version: 1,
            id: "AAAAAAAAAAAAAAAAAAAAAA:s1".into(),
            outcome: Outcome::Submitted,
            environment_id: "env".into(),
            correlation_id: "run".into(),
            rule_set_id: "next".into(),
            intervention_id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            submission_id: Some("s1".into()),
            submitted_at: Some("2026-11-25T10:00:00.000Z".into()),
            reviewer_id: None,
            counts_against_allowance: false,
            context,
            votes: None,
            pending_reviewers: None,
            action: None,
            shown: serde_json::Value::Null,
            digest: String::new(),
            changes: None,
            receipt: None,
        }
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

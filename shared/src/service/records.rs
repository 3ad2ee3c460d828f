//! The operator's read models: an intervention's record and a page of a listing. Secret values never
//! appear in them.

use serde::Serialize;

use super::Service;
use crate::domain::continuation::Continuation;
use crate::domain::id::InterventionId;
use crate::domain::ledger::{Entry, EntryKind};
use crate::domain::message::{Channel, Message, MessageKind};
use crate::domain::model::{Intervention, InterventionState, Submission};
use crate::domain::proof::{self, Change};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::ports::store::{ListQuery, StoreError};

/// An intervention's record, as the operator routes answer it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterventionRecord {
    /// The intervention.
    pub intervention_id: String,
    /// Its environment.
    pub environment_id: String,
    /// Its run's correlation id.
    pub correlation_id: String,
    /// Where it stands.
    pub state: InterventionState,
    /// Accepted submissions.
    pub uses: u32,
    /// Accepted submissions allowed.
    pub max_uses: u32,
    /// When the link expires (RFC 3339).
    pub expires_at: String,
    /// The accepted submissions, oldest first.
    pub submissions: Vec<SubmissionRecord>,
    /// The ids of the continuations queued for it (a reminder's too).
    pub continuation_ids: Vec<String>,
    /// When the reminder was queued, if it was (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<String>,
    /// A quorum's decision, once made: `approved` or `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// When the quorum decided (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The run waiting on it (Step Functions), if one attached its task: never the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskRecord>,
    /// The thing asked about, as the creation input gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    /// What every reviewer was shown (no secret key's value).
    pub shown: proof::Shown,
    /// The digest every continuation of it carries (of `action` and `shown`).
    pub digest: String,
    /// The messages sent to its reviewers (never their links), by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageRecord>,
    /// What operators did to it, oldest first (from its decision log).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
}

/// An operator's action on an intervention, in a record: what, who, when and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// What was done: `cancel`, `expire`, `resend` or `extend`.
    pub action: EntryKind,
    /// Who did it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Why, as they said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reviewer a re-send went to alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<String>,
    /// The new expiry (an extend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The timeout continuation an expiry queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_id: Option<String>,
}

impl ActionRecord {
    /// The operators' actions among an intervention's log entries, oldest first.
    fn of(entries: Vec<Entry>) -> Vec<Self> {
        let mut actions: Vec<(u64, Self)> = entries
            .into_iter()
            .filter_map(|e| {
                let by = e.by?;
                let action = Self {
                    action: e.kind,
                    by,
                    at: e.at,
                    reason: e.reason,
                    reviewer_id: e.reviewer_id,
                    expires_at: e.expires_at,
                    continuation_id: e.continuation_id,
                };
                Some((e.seq, action))
            })
            .collect();
        actions.sort_by_key(|(seq, _)| *seq);
        actions.into_iter().map(|(_, a)| a).collect()
    }
}

/// One message to a reviewer, in a record: where it went and how its sending ended, never its links.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Its id.
    pub message_id: String,
    /// `request` or `reminder`.
    pub kind: MessageKind,
    /// `email`, `slack` or `teams`.
    pub channel: Channel,
    /// The reviewer it went to (absent for the single link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<String>,
    /// The recipients: addresses, a Slack conversation, a Teams channel name.
    pub to: Vec<String>,
    /// `pending` (not sent yet, or being tried again), `sent` or `parked`.
    pub state: &'static str,
    /// Tries that failed.
    pub attempts: u32,
    /// When the provider took it (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The provider's id (SES MessageId, Slack `ts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// When it was given up on (RFC 3339), and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parked_at: Option<String>,
    /// Why it was given up on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When a Slack message was edited to say how the intervention ended (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

impl MessageRecord {
    fn new(intervention: &Intervention, message: &Message) -> Self {
        let state = match (&message.sent, &message.parked) {
            (_, Some(_)) => "parked",
            (Some(_), None) => "sent",
            (None, None) => "pending",
        };
        Self {
            message_id: message.id.clone(),
            kind: message.kind,
            channel: message.channel,
            reviewer_id: message.reviewer.and_then(|i| intervention.reviewers.get(i)).map(|r| r.id.clone()),
            to: message.to.clone(),
            state,
            attempts: message.attempts,
            sent_at: message.sent.as_ref().map(|s| s.at.to_rfc3339()),
            provider_id: message.sent.as_ref().and_then(|s| s.provider_id.clone()),
            parked_at: message.parked.as_ref().map(|p| p.at.to_rfc3339()),
            reason: message.parked.as_ref().map(|p| p.reason.clone()),
            closed_at: message.closed_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// Where the delivery to a waiting run stands, in a record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// `waiting`, `delivered`, `unconfirmed` or `gone`.
    pub state: &'static str,
    /// When it came to that (RFC 3339).
    pub at: String,
    /// The continuation delivered (`delivered`), or sent without confirmation (`unconfirmed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_id: Option<String>,
    /// Step Functions' refusal (`gone`): `TaskTimedOut`, `TaskDoesNotExist` or `InvalidToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TaskRecord {
    fn of(status: &TaskStatus) -> Option<Self> {
        let record = |state, at: Timestamp, continuation_id: Option<&String>, reason: Option<&String>| TaskRecord {
            state,
            at: at.to_rfc3339(),
            continuation_id: continuation_id.cloned(),
            reason: reason.cloned(),
        };
        match status {
            TaskStatus::None => None,
            TaskStatus::Waiting { lost: Some((continuation_id, at)), .. } => {
                Some(record("unconfirmed", *at, Some(continuation_id), None))
            }
            TaskStatus::Waiting { attached_at, .. } => Some(record("waiting", *attached_at, None, None)),
            TaskStatus::Delivered { continuation_id, at } => {
                Some(record("delivered", *at, Some(continuation_id), None))
            }
            TaskStatus::Unconfirmed { continuation_id, at } => {
                Some(record("unconfirmed", *at, Some(continuation_id), None))
            }
            TaskStatus::Gone { reason, at } => Some(record("gone", *at, None, Some(reason))),
        }
    }
}

/// One accepted submission in a record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRecord {
    /// Its id.
    pub submission_id: String,
    /// When it was accepted (RFC 3339).
    pub submitted_at: String,
    /// The reviewer's input (a secret key's value is masked).
    pub input: serde_json::Value,
    /// The named reviewer whose link it came through (absent without reviewers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<String>,
    /// The proposed values the reviewer changed (as its continuation lists them).
    pub changes: Vec<Change>,
}

/// The mask that stands for a secret value in a record.
pub const SECRET_MASK: &str = "(secret)";

impl InterventionRecord {
    pub(super) fn new(
        intervention: &Intervention,
        submissions: &[Submission],
        messages: &[Message],
        now: Timestamp,
    ) -> Self {
        let mut continuation_ids: Vec<String> = match (&intervention.quorum, &intervention.decision) {
            // A quorum's votes queue nothing but the deciding one's continuation.
            (Some(_), Some(decision)) => vec![format!("{}:{}", intervention.id, decision.submission_id)],
            (Some(_), None) => Vec::new(),
            (None, _) => submissions.iter().map(Submission::continuation_id).collect(),
        };
        if intervention.reminded_at.is_some() {
            continuation_ids.push(Continuation::reminder_id(intervention));
        }
        if intervention.timed_out_at.is_some() {
            continuation_ids.push(Continuation::timeout_id(intervention));
        }
        let submissions = submissions
            .iter()
            .map(|s| {
                let mut input = serde_json::Map::new();
                for (key, value) in s.input.iter() {
                    let shown = if intervention.secret_keys.contains(key) {
                        serde_json::Value::String(SECRET_MASK.into())
                    } else {
                        serde_json::to_value(value).unwrap_or_default()
                    };
                    input.insert(key.to_string(), shown);
                }
                SubmissionRecord {
                    submission_id: s.submission_id.to_string(),
                    submitted_at: s.submitted_at.to_rfc3339(),
                    input: serde_json::Value::Object(input),
                    reviewer_id: s.reviewer_id.clone(),
                    changes: proof::changes(intervention, s),
                }
            })
            .collect();
        let shown = proof::shown(intervention);
        Self {
            digest: proof::intervention_digest(intervention, &shown),
            action: intervention.action.clone(),
            shown,
            intervention_id: intervention.id.to_string(),
            environment_id: intervention.environment_id.clone(),
            correlation_id: intervention.correlation_id.clone(),
            state: intervention.state_at(now),
            uses: intervention.uses,
            max_uses: intervention.max_uses,
            expires_at: intervention.expires_at.to_rfc3339(),
            submissions,
            continuation_ids,
            reminded_at: intervention.reminded_at.map(|at| at.to_rfc3339()),
            outcome: intervention.decision.as_ref().map(|d| d.verdict.as_str()),
            decided_at: intervention.decision.as_ref().map(|d| d.at.to_rfc3339()),
            task: TaskRecord::of(&intervention.task),
            messages: messages.iter().map(|m| MessageRecord::new(intervention, m)).collect(),
            actions: Vec::new(),
        }
    }
}

/// One intervention in a listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterventionSummary {
    /// The intervention.
    pub intervention_id: String,
    /// Its run's correlation id.
    pub correlation_id: String,
    /// Where it stands.
    pub state: InterventionState,
    /// Accepted submissions.
    pub uses: u32,
    /// Accepted submissions allowed.
    pub max_uses: u32,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When the link expires (RFC 3339).
    pub expires_at: String,
}

impl InterventionSummary {
    pub(super) fn new(intervention: &Intervention, now: Timestamp) -> Self {
        Self {
            intervention_id: intervention.id.to_string(),
            correlation_id: intervention.correlation_id.clone(),
            state: intervention.state_at(now),
            uses: intervention.uses,
            max_uses: intervention.max_uses,
            created_at: intervention.created_at.to_rfc3339(),
            expires_at: intervention.expires_at.to_rfc3339(),
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterventionList {
    /// The interventions, newest first.
    pub interventions: Vec<InterventionSummary>,
    /// Where the next page starts (pass it back as `nextToken`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl Service {
    /// The intervention's record for an operator: state, uses, submissions and continuation ids; secret
    /// context values never appear.
    pub async fn record(&self, id: &InterventionId) -> Result<Option<InterventionRecord>, StoreError> {
        let now = self.clock.now();
        let Some(intervention) = self.store.get(id).await? else { return Ok(None) };
        let submissions = self.store.submissions(id).await?;
        let messages = if intervention.sends_messages() { self.store.messages(id).await? } else { Vec::new() };
        let mut record = InterventionRecord::new(&intervention, &submissions, &messages, now);
        // An operator's action is on the intervention's chain: without a head, there is none.
        if intervention.log_head.is_some() {
            record.actions = ActionRecord::of(self.store.intervention_log(id).await?);
        }
        Ok(Some(record))
    }

    /// A page of an environment's interventions, newest first.
    pub async fn list(
        &self,
        environment_id: &str,
        state: Option<InterventionState>,
        limit: usize,
        next_token: Option<String>,
    ) -> Result<InterventionList, StoreError> {
        let now = self.clock.now();
        let query = ListQuery { environment_id: environment_id.to_owned(), state, limit, next_token, now };
        let page = self.store.list(&query).await?;
        Ok(InterventionList {
            interventions: page.interventions.iter().map(|i| InterventionSummary::new(i, now)).collect(),
            next_token: page.next_token,
        })
    }
}

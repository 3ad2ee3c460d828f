//! The messages that reach a reviewer where they are (email, Slack, Teams): where each is sent, what it
//! says (the form's own words, rendered per channel), and how its sending ended. Recorded in the same write
//! as the intervention (or the reminder) that asks for it, and sent from the outbox by the publisher.

pub mod compose;
mod plan;

pub use plan::{plan_again, plan_reminders, plan_requests, Resend};

use serde::{Deserialize, Serialize};

use crate::domain::time::Timestamp;

/// Why a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    /// The request to decide, sent when the link is created.
    Request,
    /// The reminder, to a reviewer who has not answered.
    Reminder,
}

/// How a button looks where the channel can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    /// The first (usually approving) choice.
    Primary,
    /// A choice that refuses or rejects.
    Danger,
    /// Anything else.
    Default,
}

/// A button of a message: what it reads and where it goes (never a request that decides: a one-click
/// button opens a confirm page, any other opens the form with its option chosen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What the reviewer reads (the option's label).
    pub label: String,
    /// The link it opens.
    pub url: String,
    /// How it looks.
    pub style: ButtonStyle,
}

/// What a message says, composed from the form document as the page shows it: the same words on every
/// channel, rendered by `email`, `slack` and `teams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent {
    /// A request or a reminder.
    pub kind: MessageKind,
    /// The form's title (or the default title).
    pub title: String,
    /// The form's prompt, Markdown (the page's safe subset), if any.
    pub prompt: Option<String>,
    /// The shown context values, (label, display), in the form's order; secret keys never.
    pub details: Vec<(String, String)>,
    /// What is being decided (the input's `action`), as (path, value) lines.
    pub action: Vec<(String, String)>,
    /// Who asked (the requesting reviewer's name), if named.
    pub asked_by: Option<String>,
    /// Whom this message is for (the reviewer's name), if the intervention names reviewers.
    pub reviewer_name: Option<String>,
    /// When the links stop working.
    pub expires_at: Timestamp,
    /// The link to the form.
    pub open_url: String,
    /// One per option where the form is one choice; empty otherwise (the message links the form).
    pub buttons: Vec<Button>,
}

use crate::domain::field::Field;
use crate::domain::id::InterventionId;
use crate::domain::model::{Intervention, InterventionState};

pub use crate::domain::notify::{Channel, Configured, Notify, NotifySpec};

/// How long a sender's claim on a message holds: a sender that died holding it leaves the message to the
/// next sweep after this (the one case a second copy may be sent).
pub const MESSAGE_CLAIM_MILLIS: i64 = 2 * 60_000;
/// The longest a failed send waits before its next try.
pub const MAX_RETRY_MILLIS: i64 = 15 * 60_000;
/// How many tries a message gets before it is parked.
pub const MAX_ATTEMPTS: u32 = 8;

/// One option's link in a message: a one-click link (its confirm page) or the form with the option chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionLink {
    /// The option's value.
    pub value: String,
    /// Where its button goes.
    pub url: String,
}

/// The links a message carries, signed at creation (the publisher holds no link keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageLinks {
    /// The form.
    pub open: String,
    /// One per option of the form's choice (in its order), if it has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionLink>,
}

/// Where a sent message is, as the provider named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// When the provider took it.
    pub at: Timestamp,
    /// The provider's id (SES MessageId, Slack `ts`); Teams gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The conversation Slack put it in (a DM's `D…` for a user), for `chat.update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// Why and when a message was given up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    /// When.
    pub at: Timestamp,
    /// The provider's refusal, or why it was withdrawn.
    pub reason: String,
}

/// One message to a reviewer (or the single link's recipients) on one channel, recorded in the outbox
/// with the intervention or the reminder that asks for it; the publisher sends it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// `<interventionId>.<r|m><n>` (a request, a reminder), or `.s<seq>-<n>` / `.x<seq>-<n>` (an operator's
    /// re-send, extension; `seq` their log entry's): unique, and the same on every retry.
    pub id: String,
    /// Its intervention.
    pub intervention_id: InterventionId,
    /// A request or a reminder.
    pub kind: MessageKind,
    /// The reviewer it is for (an index into the reviewers); `None` for the single link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<usize>,
    /// The channel.
    pub channel: Channel,
    /// The recipients: email addresses, a Slack conversation, a Teams channel name.
    pub to: Vec<String>,
    /// Its links (never in a record or a log).
    pub links: MessageLinks,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Tries that failed so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this (a provider's Retry-After, or the backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    /// Once the provider took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Sent>,
    /// Once given up on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<Parked>,
    /// When a sent Slack message was edited to say how the intervention ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
}

/// Which part of the outbox a message is in: what the store indexes it under, decided here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// To send, not before the instant.
    Unsent(Timestamp),
    /// A sent Slack message showing buttons: to close when decided, or at the instant (the link's expiry).
    Open(Timestamp),
}

/// A sender's claim on a message: taken at `at` if no other sender holds one taken after `free_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// When the claim is taken.
    pub at: Timestamp,
    /// An earlier claim taken before this instant is a dead sender's, and is taken over.
    pub free_before: Timestamp,
}

/// The claim a sender takes at `now`.
pub fn claim(now: Timestamp) -> Claim {
    Claim { at: now, free_before: now.plus_millis(-MESSAGE_CLAIM_MILLIS) }
}

impl Message {
    /// A message as it is recorded at `now`: not tried yet.
    #[allow(clippy::too_many_arguments)]
    pub fn recorded(
        id: String,
        intervention_id: InterventionId,
        kind: MessageKind,
        reviewer: Option<usize>,
        channel: Channel,
        to: Vec<String>,
        links: MessageLinks,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            intervention_id,
            kind,
            reviewer,
            channel,
            to,
            links,
            recorded_at: now,
            attempts: 0,
            retry_at: None,
            sent: None,
            parked: None,
            closed_at: None,
        }
    }

    /// Where it sits in the outbox; `None` once there is nothing more to do with it.
    pub fn slot(&self, expires_at: Timestamp) -> Option<Slot> {
        match (&self.sent, &self.parked) {
            (None, None) => Some(Slot::Unsent(self.retry_at.unwrap_or(self.recorded_at))),
            (Some(_), None) if self.channel == Channel::Slack && self.closed_at.is_none() => {
                Some(Slot::Open(self.retry_at.map_or(expires_at, |at| at.min(expires_at))))
            }
            _ => None,
        }
    }

    /// This message, sent at `at` with the provider's id.
    pub fn sent(mut self, at: Timestamp, provider_id: Option<String>, conversation: Option<String>) -> Self {
        self.sent = Some(Sent { at, provider_id, conversation });
        self.retry_at = None;
        self
    }

    /// This message, given up on at `at`.
    pub fn parked(mut self, at: Timestamp, reason: impl Into<String>) -> Self {
        self.parked = Some(Parked { at, reason: reason.into() });
        self.retry_at = None;
        self
    }

    /// This sent message after a failed edit at `now`: tried again a minute later.
    pub fn close_failed(mut self, now: Timestamp) -> Self {
        self.retry_at = Some(now.plus_millis(60_000));
        self
    }

    /// This message after a failed try at `now`: tried again after the provider's Retry-After or an
    /// exponential backoff, or parked after [`MAX_ATTEMPTS`].
    pub fn failed(mut self, now: Timestamp, reason: &str, retry_after_millis: Option<u64>) -> Self {
        self.attempts += 1;
        if self.attempts >= MAX_ATTEMPTS {
            let attempts = self.attempts;
            return self.parked(now, format!("gave up after {attempts} tries: {reason}"));
        }
        let backoff = (15_000i64 << self.attempts.min(10)).min(MAX_RETRY_MILLIS);
        let wait = retry_after_millis.map_or(backoff, |ms| i64::try_from(ms).unwrap_or(MAX_RETRY_MILLIS).max(1_000));
        self.retry_at = Some(now.plus_millis(wait.min(MAX_RETRY_MILLIS)));
        self
    }
}

impl Intervention {
    /// Whether the product sends this intervention's links to anyone (a `notify` anywhere).
    pub fn sends_messages(&self) -> bool {
        self.notify.is_some() || self.reviewers.iter().any(|r| r.notify.is_some())
    }
}

/// The choice a message's buttons answer (the form's `button_field`).
pub fn choice_field(intervention: &Intervention) -> Option<&Field> {
    intervention.form.as_deref()?.button_field()
}

/// The buttons of a message: one per option link, labelled as the page labels the option; the quorum's
/// reject value (or any option after the first) is not primary.
pub fn buttons(intervention: &Intervention, links: &MessageLinks) -> Vec<Button> {
    let field = choice_field(intervention);
    let reject = intervention.quorum.as_ref().map(|q| q.reject.as_str());
    links
        .options
        .iter()
        .enumerate()
        .map(|(i, option)| {
            let label = field.map_or(option.value.as_str(), |f| f.option_label(&option.value)).to_owned();
            let style = match i {
                _ if reject == Some(option.value.as_str()) => ButtonStyle::Danger,
                0 => ButtonStyle::Primary,
                _ => ButtonStyle::Default,
            };
            Button { label, url: option.url.clone(), style }
        })
        .collect()
}

/// Why a message recorded earlier is no longer sent (decided from the intervention as read): `None` to
/// send it.
pub fn withdrawn(intervention: &Intervention, message: &Message, now: Timestamp) -> Option<&'static str> {
    if intervention.state_at(now) != InterventionState::Pending {
        return Some("withdrawn: the intervention was no longer pending when the message was sent");
    }
    if message.reviewer.is_some_and(|index| intervention.reviewed.contains(&index)) {
        return Some("withdrawn: the reviewer had answered when the message was sent");
    }
    None
}

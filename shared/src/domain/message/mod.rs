//! The messages that reach a reviewer where they are (email, Slack, Teams): where each is sent, what it
//! says (the form's own words, rendered per channel), and how its sending ended. Recorded in the same write
//! as the intervention (or the reminder) that asks for it, and sent from the outbox by the publisher.

pub mod compose;

use serde::{Deserialize, Serialize};

use crate::domain::time::Timestamp;

/// A channel a reviewer is reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// An email through SES (the sender identity is configuration).
    Email,
    /// A Slack message from the bot (its token is configuration).
    Slack,
    /// A Teams channel's Workflows webhook (its URL is configuration, named by the input).
    Teams,
}

impl Channel {
    /// The channel's name in the input, the record and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }
}

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

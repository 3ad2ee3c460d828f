//! How a message to a reviewer reads on each channel, and the clients that send it.
//!
//! One [`MessageContent`](crate::domain::message::MessageContent) (the form's own words: title, prompt,
//! shown values, action, who asked, the expiry, the buttons) is rendered three ways, each pure and each
//! held to what its provider refuses, so that a message over a limit is refused here, by name, and never
//! reaches the provider to be refused there:
//!
//! - [`email`]: a multipart/alternative MIME message (plain text and HTML, UTF-8, base64), its headers
//!   immune to injection through a title or a name, within SES v2's size and recipient limits. The HTML has
//!   inline styles only: no script, no remote image or stylesheet; the buttons are links styled as buttons.
//! - [`slack`]: Block Kit (a header, the prompt as mrkdwn, the shown values as fields, url buttons) within
//!   Slack's block limits; and the decided message that replaces it (`chat.update`), without buttons.
//! - [`teams`]: an Adaptive Card 1.4 in a Workflows webhook's body, `Action.OpenUrl` buttons only, ≤ 28 KB.
//!
//! The clients (feature `aws`): `slack_client` (the Web API's `chat.postMessage` and `chat.update` with the
//! bot token) and `teams_client` (the Workflows webhooks), on the HTTP/1 client and rustls the AWS SDK
//! already links; email goes through SES v2 (the `aws` adapters' `ses`). Their secrets come from configuration,
//! never from the input, each read by a `from_env` constructor that answers `None` when it is not set:
//! `EMAIL_FROM` (the verified SES sender, `address` or `Name <address>`), `SLACK_BOT_TOKEN` (with
//! `SLACK_API_URL`, default `https://slack.com/api/`) and `TEAMS_WEBHOOKS` (a JSON object of channel name to
//! webhook URL; https only, http to loopback for the tests' fakes).

pub mod email;
#[cfg(feature = "aws")]
mod http;
pub mod markdown;
mod markup;
pub mod read;
pub mod slack;
#[cfg(feature = "aws")]
pub mod slack_client;
pub mod teams;
#[cfg(feature = "aws")]
pub mod teams_client;

/// Why a message cannot be rendered: what was over which limit, or what was malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Something is over a provider's limit.
    #[error("{what} is {actual} {unit}; {provider} takes at most {limit}")]
    OverLimit {
        /// The provider whose limit it is (`SES`, `Slack`, `Teams`).
        provider: &'static str,
        /// What is over (`the message`, `button 2's text`).
        what: String,
        /// Its size.
        actual: usize,
        /// The limit.
        limit: usize,
        /// The unit of both (`bytes`, `characters`, `blocks`, `recipients`).
        unit: &'static str,
    },
    /// Something the provider would refuse whatever its size (an address that is not one).
    #[error("{what}: {reason}")]
    Invalid {
        /// What is malformed (`the sender`, `recipient 2`).
        what: String,
        /// Why.
        reason: String,
    },
}

impl MessageError {
    fn over(provider: &'static str, what: impl Into<String>, actual: usize, limit: usize, unit: &'static str) -> Self {
        Self::OverLimit { provider, what: what.into(), actual, limit, unit }
    }

    fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { what: what.into(), reason: reason.into() }
    }
}

/// The words of a message that are the same on every channel (how a button reads when there are none,
/// the expiry line), so no channel words them differently.
mod words {
    use crate::domain::message::{MessageContent, MessageKind};

    /// The one button of a message whose form has no single choice.
    pub const OPEN_FORM: &str = "Open the form";

    /// The line above the content: a reminder, and whom the message is for.
    pub fn lead(content: &MessageContent) -> Option<String> {
        let reminder =
            (content.kind == MessageKind::Reminder).then_some("Reminder: this request still waits for your answer.");
        let reviewer = content.reviewer_name.as_deref().map(|name| format!("For {name}."));
        match (reminder, reviewer) {
            (Some(r), Some(n)) => Some(format!("{r} {n}")),
            (Some(r), None) => Some(r.to_owned()),
            (None, n) => n,
        }
    }

    /// When the links stop working.
    pub fn expiry(content: &MessageContent) -> String {
        format!("The link works until {}.", content.expires_at.to_human())
    }

    /// Who asked.
    pub fn asked_by(content: &MessageContent) -> Option<String> {
        content.asked_by.as_deref().map(|name| format!("Asked by {name}."))
    }

    /// The heading of the action's lines.
    pub const ACTION: &str = "What is being decided";

    /// Why the message must not be forwarded.
    pub const YOURS: &str = "The links in this message are yours alone: please do not forward it.";
}

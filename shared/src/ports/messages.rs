//! The channel ports: sending what the domain rendered to a reviewer by email (SES), Slack or Teams. An
//! adapter sends and says how the provider answered; it never decides what is sent, to whom, or when.

use async_trait::async_trait;

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Throttled, a 5xx or unreachable, and nothing was delivered: try again later (not before
    /// `retry_after_millis` when the provider said so).
    #[error("the provider is unavailable: {reason}")]
    Retry {
        /// What the provider answered.
        reason: String,
        /// The provider's Retry-After, in milliseconds.
        retry_after_millis: Option<u64>,
    },
    /// Refused for good (an unknown channel or address, a bad token, a message over a limit): never
    /// retried; the message is parked.
    #[error("the provider refused the message: {0}")]
    Refused(String),
    /// The request left and its reply was lost: it may have been delivered. Trying again may send a second
    /// message; that is the only way one is ever sent twice.
    #[error("the provider did not confirm the message: {0}")]
    Unconfirmed(String),
}

/// A rendered email: a complete MIME message (headers and body) with its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The sender identity (configuration).
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The raw RFC 5322 message, CRLF line ends.
    pub raw: Vec<u8>,
}

/// A rendered Slack message: Block Kit blocks with their plain-text fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// A channel id (`C…`, `G…`) or a user id (`U…`, `W…`: a direct message).
    pub channel: String,
    /// The notification and fallback text.
    pub text: String,
    /// The blocks (a JSON array).
    pub blocks: serde_json::Value,
}

/// Where Slack put a message: what `chat.update` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackPosted {
    /// The channel id Slack answered with (a DM's `D…` for a user).
    pub channel: String,
    /// The message's timestamp: its id.
    pub ts: String,
}

/// A rendered Teams message: the Workflows webhook's body (a message with one Adaptive Card).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamsCard {
    /// The webhook's JSON body.
    pub payload: serde_json::Value,
}

/// Sends email (SES v2 on AWS; the mailbox on the local server).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; the provider's message id.
    async fn send(&self, email: &Email) -> Result<String, ChannelError>;
}

/// Posts and edits Slack messages (the Web API with the bot's token).
#[async_trait]
pub trait SlackApi: Send + Sync {
    /// `chat.postMessage`: where Slack put it.
    async fn post(&self, message: &SlackMessage) -> Result<SlackPosted, ChannelError>;

    /// `chat.update`: replaces the posted message (its buttons gone once decided).
    async fn update(&self, posted: &SlackPosted, message: &SlackMessage) -> Result<(), ChannelError>;
}

/// Posts Adaptive Cards to Teams channels through their Workflows webhooks.
#[async_trait]
pub trait TeamsApi: Send + Sync {
    /// Posts to the webhook configured under `channel` (a name; the URL is configuration). Teams answers
    /// 202 with no id.
    async fn post(&self, channel: &str, card: &TeamsCard) -> Result<(), ChannelError>;

    /// Whether a webhook is configured under this name.
    fn has_channel(&self, channel: &str) -> bool;
}

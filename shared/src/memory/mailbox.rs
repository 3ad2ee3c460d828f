//! The reviewers' channels in memory: the local server keeps every message it would have sent (an email,
//! a Slack message and its edits, a Teams card) for its mailbox page, as Mailpit does. As strict as the
//! services where it matters to the product: an email from another sender than its verified one, to no or
//! too many recipients, or over SES's size is refused as SES refuses it; an edit of a message never posted
//! is refused as Slack refuses it; a Teams channel must be one it was told of.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::channels::email::{self, MAX_EMAIL_BYTES, MAX_RECIPIENTS};
use crate::ports::messages::{ChannelError, Email, Mailer, SlackApi, SlackMessage, SlackPosted, TeamsApi, TeamsCard};

/// One message the local server would have sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivered {
    /// An email, with the id it was given.
    Email {
        /// Its provider id.
        id: String,
        /// The message as sent.
        email: Email,
    },
    /// A Slack message as it reads now (its last edit), and how many edits it had.
    Slack {
        /// Where it went and its `ts`.
        posted: SlackPosted,
        /// The message as it reads now.
        message: SlackMessage,
        /// Edits (`chat.update`) it had.
        edits: usize,
    },
    /// A Teams card, to the named channel.
    Teams {
        /// The channel's name.
        channel: String,
        /// The card as sent.
        card: TeamsCard,
    },
}

/// Every message sent, in order.
pub struct Mailbox {
    delivered: Mutex<Vec<Delivered>>,
    sender: String,
    teams_channels: Option<Vec<String>>,
}

impl Mailbox {
    /// An empty mailbox that takes email from `sender` only (its verified identity, as SES's) and Teams
    /// cards for `teams_channels` (`None`: any name).
    pub fn new(sender: &str, teams_channels: Option<Vec<String>>) -> Self {
        // SES verifies the address; the display name is the message's own.
        let address = email::sender(sender).map_or(sender, |(_, address)| address);
        Self { delivered: Mutex::new(Vec::new()), sender: address.to_owned(), teams_channels }
    }

    fn delivered_mut(&self) -> std::sync::MutexGuard<'_, Vec<Delivered>> {
        self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything sent so far, oldest first.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered_mut().clone()
    }
}

#[async_trait]
impl Mailer for Mailbox {
    async fn send(&self, email: &Email) -> Result<String, ChannelError> {
        if email.from != self.sender {
            return Err(ChannelError::Refused(format!("MessageRejected: {} is not a verified identity", email.from)));
        }
        if email.to.is_empty() || email.to.len() > MAX_RECIPIENTS {
            return Err(ChannelError::Refused(format!("BadRequest: {} recipients", email.to.len())));
        }
        if email.raw.len() > MAX_EMAIL_BYTES {
            return Err(ChannelError::Refused("MessageRejected: the message is over 40 MB".into()));
        }
        let mut delivered = self.delivered_mut();
        let id = format!("local-{}", delivered.len() + 1);
        delivered.push(Delivered::Email { id: id.clone(), email: email.clone() });
        Ok(id)
    }
}

#[async_trait]
impl SlackApi for Mailbox {
    async fn post(&self, message: &SlackMessage) -> Result<SlackPosted, ChannelError> {
        let mut delivered = self.delivered_mut();
        // Slack's ts: seconds and a sequence, unique in the channel.
        let posted =
            SlackPosted { channel: message.channel.clone(), ts: format!("1700000000.{:06}", delivered.len() + 1) };
        delivered.push(Delivered::Slack { posted: posted.clone(), message: message.clone(), edits: 0 });
        Ok(posted)
    }

    async fn update(&self, posted: &SlackPosted, message: &SlackMessage) -> Result<(), ChannelError> {
        let mut delivered = self.delivered_mut();
        let found = delivered.iter_mut().find_map(|d| match d {
            Delivered::Slack { posted: p, message: m, edits } if p == posted => Some((m, edits)),
            _ => None,
        });
        match found {
            Some((stored, edits)) => {
                *stored = SlackMessage { channel: posted.channel.clone(), ..message.clone() };
                *edits += 1;
                Ok(())
            }
            None => Err(ChannelError::Refused("message_not_found".into())),
        }
    }
}

#[async_trait]
impl TeamsApi for Mailbox {
    async fn post(&self, channel: &str, card: &TeamsCard) -> Result<(), ChannelError> {
        if !self.has_channel(channel) {
            return Err(ChannelError::Refused(format!("no Teams channel {channel:?} is configured")));
        }
        self.delivered_mut().push(Delivered::Teams { channel: channel.to_owned(), card: card.clone() });
        Ok(())
    }

    fn has_channel(&self, channel: &str) -> bool {
        self.teams_channels.as_ref().is_none_or(|names| names.iter().any(|n| n == channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(from: &str, recipients: usize) -> Email {
        let to = (0..recipients).map(|i| format!("r{i}@example.com")).collect();
        Email { from: from.into(), to, raw: b"Subject: x\r\n\r\nbody".to_vec() }
    }

    #[tokio::test]
    async fn it_refuses_what_the_services_refuse() {
        let mailbox = Mailbox::new("Approvals <approvals@example.com>", Some(vec!["ops".into()]));
        assert!(mailbox.send(&email("approvals@example.com", 1)).await.is_ok());
        let refused = |r: Result<String, ChannelError>| matches!(r, Err(ChannelError::Refused(_)));
        assert!(refused(mailbox.send(&email("someone@example.com", 1)).await), "an unverified sender");
        assert!(refused(mailbox.send(&email("approvals@example.com", 0)).await), "no recipient");
        assert!(refused(mailbox.send(&email("approvals@example.com", 51)).await), "over SES's 50");
        let message = SlackMessage { channel: "C0123456789".into(), text: "t".into(), blocks: serde_json::json!([]) };
        let posted = SlackApi::post(&mailbox, &message).await.unwrap();
        assert!(SlackApi::update(&mailbox, &posted, &message).await.is_ok());
        let never = SlackPosted { ts: "1.000009".into(), ..posted };
        assert_eq!(
            SlackApi::update(&mailbox, &never, &message).await,
            Err(ChannelError::Refused("message_not_found".into()))
        );
        let card = TeamsCard { payload: serde_json::json!({}) };
        assert!(refused(TeamsApi::post(&mailbox, "other", &card).await.map(|()| String::new())));
        assert_eq!(mailbox.delivered().len(), 2, "only what was taken is kept");
    }
}

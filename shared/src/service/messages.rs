//! Sending the messages to reviewers from the outbox, once: the stream hands each new message to
//! [`send_message`] and the sweep sends whatever is due ([`send_messages`]); one sender at a time holds a
//! message's claim, so a second copy goes out only where a sender died between the provider's answer and
//! recording it (or the provider's answer was lost). A provider's throttling or 5xx is tried again later, a
//! refusal parks the message; neither ever touches a decision. Once the intervention ends, each Slack
//! message it sent is edited to say how ([`close_messages`]).

use std::collections::HashSet;
use std::sync::Arc;

use tracing::Instrument;

use crate::channels::email::render_email;
use crate::channels::slack::{render_slack, render_slack_closed};
use crate::channels::teams::render_teams;
use crate::domain::id::InterventionId;
use crate::domain::message::compose::{closing_line, compose, Ending};
use crate::domain::message::{self, buttons, withdrawn, Channel, Message};
use crate::domain::model::{Intervention, InterventionState};
use crate::domain::time::Timestamp;
use crate::domain::verdict::Verdict;
use crate::ports::messages::{ChannelError, Mailer, SlackApi, SlackPosted, TeamsApi};
use crate::ports::store::{InterventionStore, StoreError};
use crate::telemetry::{self, metric};

/// Messages read from the outbox at a time.
const MESSAGE_BATCH: usize = 25;

/// The channels a publisher sends on; `None` where this deployment has none (a message for it is parked).
#[derive(Clone, Copy, Default)]
pub struct Messengers<'a> {
    /// The sender identity and the mailer.
    pub email: Option<(&'a str, &'a dyn Mailer)>,
    /// Slack's Web API.
    pub slack: Option<&'a dyn SlackApi>,
    /// Teams' Workflows webhooks.
    pub teams: Option<&'a dyn TeamsApi>,
}

/// The channels a deployment sends on, owned (the publisher's, the local server's).
#[derive(Clone, Default)]
pub struct Channels {
    /// The sender identity and the mailer.
    pub email: Option<(String, Arc<dyn Mailer>)>,
    /// Slack's Web API.
    pub slack: Option<Arc<dyn SlackApi>>,
    /// Teams' Workflows webhooks.
    pub teams: Option<Arc<dyn TeamsApi>>,
}

impl Channels {
    /// The channels, borrowed for one pass.
    pub fn messengers(&self) -> Messengers<'_> {
        Messengers {
            email: self.email.as_ref().map(|(from, mailer)| (from.as_str(), mailer.as_ref())),
            slack: self.slack.as_deref(),
            teams: self.teams.as_deref(),
        }
    }
}

/// What one try at a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOutcome {
    /// The provider took it.
    Sent,
    /// The provider refused it for good (or it cannot be sent here): parked, never tried again.
    Parked,
    /// The intervention (or the reviewer) no longer needs it: parked as withdrawn.
    Withdrawn,
    /// The provider failed for now: tried again at the message's `retryAt`.
    Retrying,
    /// Another sender holds it, or it was sent or parked already.
    NotMine,
}

impl MessageOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Parked => "parked",
            Self::Withdrawn => "withdrawn",
            Self::Retrying => "retrying",
            Self::NotMine => "not_mine",
        }
    }
}

/// How many messages a pass sent, parked (withdrawn included) and left to try again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sending {
    /// Taken by the provider.
    pub sent: usize,
    /// Parked: refused, or withdrawn.
    pub parked: usize,
    /// Left for a later try.
    pub retrying: usize,
}

/// Sends every message due by `due_by` (the sweep), a batch at a time.
pub async fn send_messages(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    due_by: Timestamp,
    now: Timestamp,
) -> Result<Sending, StoreError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut sending = Sending::default();
    loop {
        let batch = store.unsent_messages(MESSAGE_BATCH, due_by).await?;
        // One held by another sender stays where it is: once seen, it ends the pass.
        let fresh: Vec<Message> = batch.into_iter().filter(|m| seen.insert(m.id.clone())).collect();
        if fresh.is_empty() {
            return Ok(sending);
        }
        for message in &fresh {
            match send_message(store, messengers, message, now).await? {
                MessageOutcome::Sent => sending.sent += 1,
                MessageOutcome::Parked | MessageOutcome::Withdrawn => sending.parked += 1,
                MessageOutcome::Retrying => sending.retrying += 1,
                MessageOutcome::NotMine => {}
            }
        }
    }
}

/// Sends one recorded message, once: withdrawn if its intervention or reviewer no longer needs it, else
/// claimed, rendered from the intervention as it stands, sent, and settled with the provider's answer.
pub async fn send_message(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    message: &Message,
    now: Timestamp,
) -> Result<MessageOutcome, StoreError> {
    // Every line under the intervention's ids, as every operation's.
    let span = telemetry::intervention_span("message");
    send_in_span(store, messengers, message, now).instrument(span).await
}

async fn send_in_span(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    message: &Message,
    now: Timestamp,
) -> Result<MessageOutcome, StoreError> {
    telemetry::record_intervention_id(&message.intervention_id);
    let Some(intervention) = store.get(&message.intervention_id).await? else {
        tracing::warn!(message_id = %message.id, "a message of an intervention that is not stored; nothing to send");
        return Ok(MessageOutcome::NotMine);
    };
    telemetry::record_intervention(&intervention);
    if let Some(reason) = withdrawn(&intervention, message, now) {
        let parked = message.clone().parked(now, reason);
        store.settle_message(&parked, parked.slot(intervention.expires_at)).await?;
        return Ok(counted(message, MessageOutcome::Withdrawn, reason));
    }
    let Some(claimed) = store.claim_message(&intervention.id, &message.id, &message::claim(now)).await? else {
        return Ok(MessageOutcome::NotMine);
    };
    let (settled, outcome, note) = match deliver(messengers, &intervention, &claimed, now).await {
        Ok((provider_id, conversation)) => {
            (claimed.sent(now, provider_id, conversation), MessageOutcome::Sent, String::new())
        }
        Err(ChannelError::Refused(reason)) => (claimed.parked(now, reason.clone()), MessageOutcome::Parked, reason),
        Err(ChannelError::Retry { reason, retry_after_millis }) => {
            (claimed.failed(now, &reason, retry_after_millis), MessageOutcome::Retrying, reason)
        }
        Err(ChannelError::Unconfirmed(reason)) => {
            (claimed.failed(now, &reason, None), MessageOutcome::Retrying, reason)
        }
    };
    // Parked after its last try, a retry counts as parked.
    let outcome =
        if outcome == MessageOutcome::Retrying && settled.parked.is_some() { MessageOutcome::Parked } else { outcome };
    store.settle_message(&settled, settled.slot(intervention.expires_at)).await?;
    Ok(counted(&settled, outcome, &note))
}

/// Logs one line (in the message's span, under its intervention's ids) and counts a message's outcome by
/// channel.
fn counted(message: &Message, outcome: MessageOutcome, note: &str) -> MessageOutcome {
    let channel = message.channel.as_str();
    metrics::counter!(metric::MESSAGES, "channel" => channel, "outcome" => outcome.as_str()).increment(1);
    if outcome == MessageOutcome::Parked {
        metrics::counter!(metric::MESSAGES_PARKED).increment(1);
    }
    match outcome {
        MessageOutcome::Sent => tracing::info!(message_id = %message.id, channel, "message sent"),
        MessageOutcome::Parked => tracing::warn!(message_id = %message.id, channel, reason = note, "message parked"),
        _ => {
            tracing::info!(message_id = %message.id, channel, outcome = outcome.as_str(), reason = note, "message not sent")
        }
    }
    outcome
}

/// Renders `message` for its channel from the intervention as it stands and hands it to the provider:
/// the provider's id and (Slack) the conversation it went to.
async fn deliver(
    messengers: Messengers<'_>,
    intervention: &Intervention,
    message: &Message,
    now: Timestamp,
) -> Result<(Option<String>, Option<String>), ChannelError> {
    let content = compose(
        intervention,
        message.reviewer,
        message.kind,
        &message.links.open,
        buttons(intervention, &message.links),
    );
    let refused = |e: crate::channels::MessageError| ChannelError::Refused(e.to_string());
    let not_configured = |channel: Channel| {
        ChannelError::Refused(format!("{} is not configured where this message is sent", channel.as_str()))
    };
    let to = message.to.first().map(String::as_str).unwrap_or_default();
    match message.channel {
        Channel::Email => {
            let (from, mailer) = messengers.email.ok_or(not_configured(Channel::Email))?;
            let email = render_email(&content, from, &message.to, &message.id, now).map_err(refused)?;
            Ok((Some(mailer.send(&email).await?), None))
        }
        Channel::Slack => {
            let slack = messengers.slack.ok_or(not_configured(Channel::Slack))?;
            let posted = slack.post(&render_slack(&content, to).map_err(refused)?).await?;
            Ok((Some(posted.ts), Some(posted.channel)))
        }
        Channel::Teams => {
            let teams = messengers.teams.ok_or(not_configured(Channel::Teams))?;
            teams.post(to, &render_teams(&content).map_err(refused)?).await?;
            Ok((None, None))
        }
    }
}

/// How the intervention ended (who decided, by name), for the closing line.
enum Ended {
    Approved(Option<String>),
    Rejected(Option<String>),
    Answered(Option<String>),
    Expired,
    Cancelled,
}

impl Ended {
    fn as_ending(&self) -> Ending<'_> {
        match self {
            Self::Approved(by) => Ending::Approved(by.as_deref()),
            Self::Rejected(by) => Ending::Rejected(by.as_deref()),
            Self::Answered(by) => Ending::Answered(by.as_deref()),
            Self::Expired => Ending::Expired,
            Self::Cancelled => Ending::Cancelled,
        }
    }
}

/// How the intervention ended, and when (`None` while it is pending).
async fn ending(
    store: &dyn InterventionStore,
    intervention: &Intervention,
    now: Timestamp,
) -> Result<Option<(Ended, Timestamp)>, StoreError> {
    let name = |reviewer_id: Option<&str>| {
        reviewer_id.and_then(|id| intervention.reviewers.iter().find(|r| r.id == id)).map(|r| r.name.clone())
    };
    Ok(Some(match intervention.state_at(now) {
        InterventionState::Pending => return Ok(None),
        InterventionState::Cancelled => (Ended::Cancelled, intervention.cancelled_at.unwrap_or(now)),
        InterventionState::TimedOut => (Ended::Expired, intervention.timed_out_at.unwrap_or(now)),
        InterventionState::Expired => (Ended::Expired, intervention.expires_at.min(now)),
        InterventionState::Completed => {
            let submissions = store.submissions(&intervention.id).await?;
            match &intervention.decision {
                Some(decision) => {
                    let by = submissions.iter().find(|s| s.submission_id == decision.submission_id);
                    let who = name(by.and_then(|s| s.reviewer_id.as_deref()));
                    let ended = match decision.verdict {
                        Verdict::Approved => Ended::Approved(who),
                        Verdict::Rejected => Ended::Rejected(who),
                    };
                    (ended, decision.at)
                }
                None => {
                    let last = submissions.last();
                    let who = name(last.and_then(|s| s.reviewer_id.as_deref()));
                    (Ended::Answered(who), last.map_or(now, |s| s.submitted_at))
                }
            }
        }
    }))
}

/// Edits each open Slack message of the intervention `id` to say how it ended, its buttons gone, once it
/// has ended; how many were edited. One Slack refused to edit (deleted, archived) is closed as it is.
pub async fn close_messages(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    id: &InterventionId,
    now: Timestamp,
) -> Result<usize, StoreError> {
    close_in_span(store, messengers, id, now).instrument(telemetry::intervention_span("close")).await
}

async fn close_in_span(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    id: &InterventionId,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let Some(slack) = messengers.slack else { return Ok(0) };
    telemetry::record_intervention_id(id);
    let Some(intervention) = store.get(id).await? else { return Ok(0) };
    telemetry::record_intervention(&intervention);
    if !intervention.sends_messages() {
        return Ok(0);
    }
    let Some((ended, at)) = ending(store, &intervention, now).await? else { return Ok(0) };
    let mut closed = 0;
    for message in store.messages(id).await? {
        let (Some(sent), None, Channel::Slack) = (&message.sent, message.closed_at, message.channel) else { continue };
        let (Some(ts), Some(conversation)) = (sent.provider_id.clone(), sent.conversation.clone()) else { continue };
        let content = compose(&intervention, message.reviewer, message.kind, &message.links.open, Vec::new());
        let edited = match render_slack_closed(&content, &closing_line(ended.as_ending(), at, sent.at), &conversation) {
            Ok(edited) => edited,
            Err(error) => {
                tracing::warn!(message_id = %message.id, error = %error, "the closed message cannot be rendered");
                continue;
            }
        };
        let posted = SlackPosted { channel: conversation, ts };
        let settled = match slack.update(&posted, &edited).await {
            Ok(()) => {
                closed += 1;
                Message { closed_at: Some(now), retry_at: None, ..message }
            }
            Err(ChannelError::Refused(reason)) => {
                tracing::warn!(message_id = %message.id, reason, "Slack refused the edit; the message stays as sent");
                Message { closed_at: Some(now), retry_at: None, ..message }
            }
            Err(error) => {
                tracing::info!(message_id = %message.id, error = %error, "editing the message failed; tried again");
                message.close_failed(now)
            }
        };
        store.settle_message(&settled, settled.slot(intervention.expires_at)).await?;
    }
    Ok(closed)
}

/// Closes the Slack messages of every intervention whose open messages are due by `expired_by` (the
/// sweep: links that ran out, and edits to try again).
pub async fn close_expired(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    expired_by: Timestamp,
    now: Timestamp,
) -> Result<usize, StoreError> {
    if messengers.slack.is_none() {
        return Ok(0);
    }
    let mut done: HashSet<InterventionId> = HashSet::new();
    let mut closed = 0;
    for message in store.open_messages(MESSAGE_BATCH * 4, expired_by).await? {
        if done.insert(message.intervention_id) {
            closed += close_messages(store, messengers, &message.intervention_id, now).await?;
        }
    }
    Ok(closed)
}

/// After the answers in `sent` went out: edits the Slack messages of each intervention they decided
/// (best effort: a failure is logged and left to the sweep, never holding up the answers).
pub async fn close_decided(
    store: &dyn InterventionStore,
    messengers: Messengers<'_>,
    sent: &[&crate::domain::continuation::Continuation],
    now: Timestamp,
) {
    if messengers.slack.is_none() {
        return;
    }
    let mut done: HashSet<&str> = HashSet::new();
    for continuation in sent {
        if continuation.outcome == crate::domain::continuation::Outcome::Reminder
            || !done.insert(continuation.intervention_id.as_str())
        {
            continue;
        }
        let Some(id) = InterventionId::parse(&continuation.intervention_id) else { continue };
        if let Err(error) = close_messages(store, messengers, &id, now).await {
            tracing::warn!(error = %error, "editing the decided Slack messages failed; the sweep tries again");
        }
    }
}

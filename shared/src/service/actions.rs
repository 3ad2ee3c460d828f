//! An operator's actions besides the cancel: expire now, re-send the links, extend the expiry. Each is the
//! lifecycle's change, written by the store with its decision log entry (who, what, when, why).

use serde::Serialize;

use super::{traced, Service, VOTE_ATTEMPTS};
use crate::domain::continuation::Continuation;
use crate::domain::error::ConfigError;
use crate::domain::id::InterventionId;
use crate::domain::ledger::EntryKind;
use crate::domain::lifecycle::{self, ActionRefusal, Change, Operator};
use crate::domain::message::{plan_again, Message, MessageKind, MessageLinks, Notify, NotifySpec, Resend};
use crate::domain::model::{Intervention, InterventionState};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::ports::store::{ActionOutcome, StoreError};
use crate::ports::tasks::TaskError;
use crate::telemetry;

/// What an operator's action answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Acted {
    /// Done, and what it did.
    Done(ActionDone),
    /// Nothing changed, for this named reason; the state the intervention is in.
    Refused {
        /// Why.
        refusal: ActionRefusal,
        /// Its state at the refusal.
        state: InterventionState,
    },
    /// A field of the request is not valid; nothing changed.
    Invalid(ConfigError),
    /// No intervention with this id.
    NotFound,
}

/// What an action did, as the operator is answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDone {
    /// The intervention.
    pub intervention_id: String,
    /// `expire`, `resend` or `extend`.
    pub action: EntryKind,
    /// Its state after the action.
    pub state: InterventionState,
    /// When its links expire now (RFC 3339).
    pub expires_at: String,
    /// The timeout continuation an expiry queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_id: Option<String>,
    /// The messages recorded to send the links (again).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub message_ids: Vec<String>,
}

/// A re-send's target: one reviewer (by id), and where to send instead of their `notify`.
#[derive(Debug, Clone, Default)]
pub struct ResendTo {
    /// The reviewer's id; `None`: every pending one (or the single link's recipients).
    pub reviewer: Option<String>,
    /// The corrected channels, checked like creation's `notify`.
    pub notify: Option<NotifySpec>,
}

/// What an action writes, planned on one read.
struct Planned {
    change: Change<ActionRefusal>,
    continuation: Option<Continuation>,
    messages: Vec<Message>,
}

impl Service {
    /// Ends the intervention now as if its expiry had passed: its links answer Link has expired, its
    /// timeout continuation (with `onTimeout`) is queued as the timer would, and its timers are removed.
    pub async fn expire_as(&self, id: &InterventionId, operator: &Operator) -> Result<Acted, StoreError> {
        traced("expire", |_| {}, async {
            telemetry::record_intervention_id(id);
            let acted = self
                .act(id, EntryKind::Expire, |read, _, now| {
                    let continuation = Continuation::for_timeout(read);
                    let change = lifecycle::expire(read, continuation.as_ref().map(|c| c.id.as_str()), now, operator);
                    Ok(Planned { change, continuation, messages: Vec::new() })
                })
                .await?;
            if let Acted::Done(_) = &acted {
                self.unschedule(id).await;
                self.unschedule_reminder(id).await;
            }
            Ok(acted)
        })
        .await
    }

    /// Sends the links again through the reviewers' channels (to `to.reviewer` alone if named, on
    /// `to.notify` instead of theirs if given): only while pending and on configured channels.
    pub async fn resend_as(&self, id: &InterventionId, operator: &Operator, to: ResendTo) -> Result<Acted, StoreError> {
        traced("resend", |_| {}, async {
            telemetry::record_intervention_id(id);
            let Some(read) = self.load(id).await? else { return Ok(Acted::NotFound) };
            let only = match &to.reviewer {
                None if to.notify.is_some() && !read.reviewers.is_empty() => {
                    return Ok(Acted::Invalid(ConfigError::new("reviewer", "name the reviewer whose notify this is")))
                }
                None => to.notify.as_ref().map(|_| None),
                Some(name) => match read.reviewer_index(name) {
                    Some(index) if !read.is_requester(index) => Some(Some(index)),
                    Some(_) => {
                        return Ok(Acted::Invalid(ConfigError::new("reviewer", "is the requester: no link of theirs")))
                    }
                    None => return Ok(Acted::Invalid(ConfigError::new("reviewer", format!("no reviewer {name:?}")))),
                },
            };
            let notify = match to.notify.map(|spec| spec.parse("notify")).transpose() {
                Ok(notify) => notify,
                Err(error) => return Ok(Acted::Invalid(error)),
            };
            // The links as sent before (a service without keys signs none), else signed now.
            let sent = self.store.messages(id).await?;
            let acted = self
                .act(id, EntryKind::Resend, |read, tag, now| {
                    let reviewer = only.flatten();
                    let change = lifecycle::resend(read, reviewer, now, operator);
                    refused(&change, read)?;
                    let links = |target| self.links_for(read, &sent, target);
                    let resend = Resend { only, notify: notify.as_ref() };
                    let messages = plan_again(read, links, resend, &format!("s{tag}"), now);
                    if messages.is_empty() {
                        return Err((ActionRefusal::NothingToSend, read, now));
                    }
                    self.configured(&messages, read, now)?;
                    Ok(Planned { change, continuation: None, messages })
                })
                .await?;
            Ok(acted)
        })
        .await
    }

    /// Moves the expiry to `expires_at` (later, and no later than `runAvailableUntil`): new links are
    /// signed and sent again through the reviewers' channels (old ones keep their own expiry), the timers
    /// are moved, and a waiting run is heartbeated first; a run that is gone refuses the extension.
    pub async fn extend_as(
        &self,
        id: &InterventionId,
        operator: &Operator,
        expires_at: Timestamp,
    ) -> Result<Acted, StoreError> {
        traced("extend", |_| {}, async {
            telemetry::record_intervention_id(id);
            let Some(read) = self.load(id).await? else { return Ok(Acted::NotFound) };
            let now = self.clock.now();
            if self.keys.is_none() {
                return Ok(Acted::Refused { refusal: ActionRefusal::NoLinkKeys, state: read.state_at(now) });
            }
            if let Err(refusal) = lifecycle::extend(&read, expires_at, now, operator) {
                return Ok(Acted::Refused { refusal, state: read.state_at(now) });
            }
            if let Some(refused) = self.heartbeat(&read, now).await? {
                return Ok(refused);
            }
            let acted = self
                .act(id, EntryKind::Extend, |read, tag, now| {
                    let change = lifecycle::extend(read, expires_at, now, operator).map_err(|r| (r, read, now))?;
                    let mut extended = read.clone();
                    extended.expires_at = expires_at;
                    let links = |target| self.new_links(&extended, target);
                    let messages = plan_again(&extended, links, Resend::default(), &format!("x{tag}"), now);
                    // New links that reach no one would leave only the old ones, which die at the old expiry.
                    if messages.is_empty() {
                        return Err((ActionRefusal::NothingToSend, read, now));
                    }
                    self.configured(&messages, read, now)?;
                    Ok(Planned { change, continuation: None, messages })
                })
                .await?;
            if let Acted::Done(_) = &acted {
                self.reschedule(&read, expires_at).await;
            }
            Ok(acted)
        })
        .await
    }

    /// The action planned by `plan` on a read (with the `seq` its entry takes), written, and planned again
    /// on a fresh read while other decisions move the log.
    async fn act<P>(&self, id: &InterventionId, action: EntryKind, plan: P) -> Result<Acted, StoreError>
    where
        P: for<'r> Fn(
            &'r Intervention,
            u64,
            Timestamp,
        ) -> Result<Planned, (ActionRefusal, &'r Intervention, Timestamp)>,
    {
        for _ in 0..VOTE_ATTEMPTS {
            let Some(read) = self.load(id).await? else { return Ok(Acted::NotFound) };
            let now = self.clock.now();
            let seq = read.log_head.as_ref().map_or(0, |h| h.seq + 1);
            let planned = match plan(&read, seq, now) {
                Ok(planned) => planned,
                Err((refusal, read, now)) => return Ok(refused_answer(refusal, read, now)),
            };
            if let Some(refusal) = planned.change.refusal(&read).filter(|r| *r != ActionRefusal::Moved) {
                return Ok(refused_answer(refusal, &read, now));
            }
            let Planned { change, continuation, messages } = planned;
            match self.store.act(&read, continuation.as_ref(), &messages, &change).await? {
                ActionOutcome::Done => {
                    let mut after = read;
                    change.effects.iter().for_each(|effect| effect.apply(&mut after));
                    tracing::info!(action = action_name(action), messages = messages.len(), "operator's action done");
                    return Ok(Acted::Done(ActionDone {
                        intervention_id: id.to_string(),
                        action,
                        state: after.state_at(now),
                        expires_at: after.expires_at.to_rfc3339(),
                        continuation_id: continuation.map(|c| c.id),
                        message_ids: messages.into_iter().map(|m| m.id).collect(),
                    }));
                }
                ActionOutcome::Refused(ActionRefusal::Moved) => {}
                ActionOutcome::Refused(refusal) => {
                    let state = self.load(id).await?.map_or(InterventionState::Cancelled, |i| i.state_at(now));
                    tracing::info!(action = action_name(action), refusal = refusal.code(), "operator's action refused");
                    return Ok(Acted::Refused { refusal, state });
                }
                ActionOutcome::NotFound => return Ok(Acted::NotFound),
            }
        }
        Err(StoreError::Unavailable("the action kept meeting newer decisions; nothing was recorded".into()))
    }

    /// The links of `target` as its request carried them, else signed now (`None` without keys).
    fn links_for(&self, read: &Intervention, sent: &[Message], target: Option<usize>) -> Option<MessageLinks> {
        let before = sent.iter().find(|m| m.kind == MessageKind::Request && m.reviewer == target);
        before.map(|m| m.links.clone()).or_else(|| self.new_links(read, target))
    }

    /// Links of `target` signed now for the intervention's expiry (`None` without keys).
    fn new_links(&self, intervention: &Intervention, target: Option<usize>) -> Option<MessageLinks> {
        Some(self.message_links(self.keys.as_ref()?, intervention, target))
    }

    /// Every message goes on a channel this deployment configures.
    fn configured<'r>(
        &self,
        messages: &[Message],
        read: &'r Intervention,
        now: Timestamp,
    ) -> Result<(), (ActionRefusal, &'r Intervention, Timestamp)> {
        for message in messages {
            let notify = match message.channel {
                crate::domain::message::Channel::Email => Notify { email: message.to.clone(), ..Notify::default() },
                crate::domain::message::Channel::Slack => {
                    Notify { slack: message.to.first().cloned(), ..Notify::default() }
                }
                crate::domain::message::Channel::Teams => {
                    Notify { teams: message.to.first().cloned(), ..Notify::default() }
                }
            };
            if self.channels.check(&notify, "notify").is_err() {
                return Err((ActionRefusal::ChannelNotConfigured, read, now));
            }
        }
        Ok(())
    }

    /// Heartbeats the run waiting on `read`, so it outlives the new expiry: a refusal if it is gone.
    async fn heartbeat(&self, read: &Intervention, now: Timestamp) -> Result<Option<Acted>, StoreError> {
        let (Some(tasks), TaskStatus::Waiting { token, .. }) = (&self.tasks, &read.task) else { return Ok(None) };
        match tasks.heartbeat(token).await {
            Ok(()) => Ok(None),
            Err(TaskError::Gone(gone)) => {
                tracing::info!(error = gone.code(), "extend refused: the waiting run is gone");
                // Recorded as the publisher records it: the links of a gone run answer Link has expired.
                let settlement = lifecycle::Settlement::Gone(gone.code().to_owned());
                self.store.settle_task(&read.id, &lifecycle::settle(token, &settlement, now)).await?;
                let state = self.load(&read.id).await?.map_or(InterventionState::Cancelled, |i| i.state_at(now));
                Ok(Some(Acted::Refused { refusal: ActionRefusal::RunGone, state }))
            }
            Err(error) => Err(StoreError::Unavailable(format!("the waiting run could not be heartbeated: {error}"))),
        }
    }

    /// Moves the timers of `read` to the new expiry (best effort, like their removal: the timeout timer
    /// checks the stored expiry when it fires).
    async fn reschedule(&self, read: &Intervention, expires_at: Timestamp) {
        let Some(scheduler) = &self.scheduler else { return };
        if read.on_timeout.is_some() {
            if let Err(error) = scheduler.reschedule(&read.id, expires_at).await {
                tracing::warn!(error = %error, "moving the timeout timer failed");
            }
        }
    }
}

/// The change's refusal on the copy read, if it has one besides a moved log.
fn refused<'r>(
    change: &Change<ActionRefusal>,
    read: &'r Intervention,
) -> Result<(), (ActionRefusal, &'r Intervention, Timestamp)> {
    match change.refusal(read) {
        Some(refusal) if refusal != ActionRefusal::Moved => Err((refusal, read, change.at)),
        _ => Ok(()),
    }
}

fn refused_answer(refusal: ActionRefusal, read: &Intervention, now: Timestamp) -> Acted {
    tracing::info!(refusal = refusal.code(), "operator's action refused");
    Acted::Refused { refusal, state: read.state_at(now) }
}

fn action_name(action: EntryKind) -> &'static str {
    match action {
        EntryKind::Expire => "expire",
        EntryKind::Resend => "resend",
        EntryKind::Extend => "extend",
        _ => "other",
    }
}

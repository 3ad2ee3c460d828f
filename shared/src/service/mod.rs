//! The operations behind every entry point: create a link, view it, submit to it, cancel its run, export
//! the decision log.
//! Handlers (Lambda or the local server) only translate to and from these. A file per use case; this one
//! holds what they share: the [`Service`], its parts, and the one span every operation runs in.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

use crate::domain::id::InterventionId;
use crate::domain::message::Configured;
use crate::domain::model::Intervention;
use crate::domain::proof::receipt::Jwks;
use crate::domain::time::{Clock, Timestamp};
use crate::domain::token::{token_digest, LinkKeys, VerifiedLink};
use crate::ports::receipts::{ReceiptSigner, SignError};
use crate::ports::schedule::InterventionTimers;
use crate::ports::store::{InterventionStore, StoreError};
use crate::ports::tasks::TaskNotifier;
use crate::telemetry;

mod actions;
mod attach;
mod cancel;
mod create;
mod export;
mod links;
mod messages;
mod outbox;
mod receipt;
mod records;
mod reminder;
mod submit;
mod timeout;
mod view;
mod vote;

pub use actions::{Acted, ActionDone, ResendTo};
pub use attach::{AttachError, Attached};
pub use cancel::{Cancellation, CANCELLED_ERROR, INDEX_LOOKS, INDEX_WAIT};
pub use create::{CreateError, CreatedLink};
pub use export::{export_log, Export, ExportError};
pub use links::OptionLink;
pub use messages::{
    close_decided, close_expired, close_messages, send_message, send_messages, Channels, MessageOutcome, Messengers,
    Sending,
};
pub use outbox::{
    deliver_task, publish_outbox, settle_sent, withhold_withdrawn, Delivery, DeliveryError, Outlets, PublishError,
    SWEEP_AFTER_MILLIS, WITHDRAWN,
};
pub use receipt::{sign, sign_all};
pub use records::{
    ActionRecord, InterventionList, InterventionRecord, InterventionSummary, SubmissionRecord, TaskRecord, SECRET_MASK,
};
pub use submit::{Posted, SubmitRequest, SubmitResult};
pub use view::{LivePage, View};

/// What every operation needs: the store, the keys, the clock and the public base URL of links.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn InterventionStore>,
    /// `None` for functions that never sign or verify links (timeouts, records).
    keys: Option<Arc<LinkKeys>>,
    clock: Arc<dyn Clock>,
    base_url: String,
    scheduler: Option<Arc<dyn InterventionTimers>>,
    tasks: Option<Arc<dyn TaskNotifier>>,
    /// Signs what a waiting run is answered with, and publishes the receipt keys.
    receipts: Option<Arc<dyn ReceiptSigner>>,
    /// The channels a link-creation input may name (none unless configured).
    channels: Configured,
}

impl Service {
    /// A service on these parts; `base_url` is where links point (never taken from a request).
    pub fn new(store: Arc<dyn InterventionStore>, keys: Arc<LinkKeys>, clock: Arc<dyn Clock>, base_url: &str) -> Self {
        Self {
            store,
            keys: Some(keys),
            clock,
            base_url: base_url.trim_end_matches('/').to_owned(),
            scheduler: None,
            tasks: None,
            receipts: None,
            channels: Configured::default(),
        }
    }

    /// A service that fires timeouts and reads records but has no link keys: it creates no links and
    /// verifies none.
    pub fn without_links(store: Arc<dyn InterventionStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            keys: None,
            clock,
            base_url: String::new(),
            scheduler: None,
            tasks: None,
            receipts: None,
            channels: Configured::default(),
        }
    }

    /// This service with timeouts: without a scheduler, an input with `onTimeout` is refused.
    pub fn with_scheduler(mut self, scheduler: Arc<dyn InterventionTimers>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// This service with waiting runs: task tokens can be attached and answered.
    pub fn with_tasks(mut self, tasks: Arc<dyn TaskNotifier>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// This service with receipts: what it answers a waiting run with is signed, and its keys published.
    pub fn with_receipts(mut self, receipts: Arc<dyn ReceiptSigner>) -> Self {
        self.receipts = Some(receipts);
        self
    }

    /// This service with channels to reach reviewers on: an input may name these (and no others).
    pub fn with_channels(mut self, channels: Configured) -> Self {
        self.channels = channels;
        self
    }

    /// The published receipt keys (`None`: this deployment signs no receipts).
    pub async fn receipt_keys(&self) -> Option<Result<Jwks, SignError>> {
        Some(self.receipts.as_ref()?.public_keys().await)
    }

    /// The store behind this service.
    pub fn store(&self) -> &Arc<dyn InterventionStore> {
        &self.store
    }

    /// The current instant, read once per operation.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Removes the intervention's timer (best effort: a timer left behind finds nothing to do).
    async fn unschedule(&self, id: &InterventionId) {
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.unschedule(id).await {
                tracing::warn!(error = %error, "removing the timeout timer failed; it will find nothing to do");
            }
        }
    }

    /// Removes the intervention's reminder timer (best effort, like the timeout's).
    async fn unschedule_reminder(&self, id: &InterventionId) {
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.unschedule_reminder(id).await {
                tracing::warn!(error = %error, "removing the reminder timer failed; it will find nothing to do");
            }
        }
    }

    /// Checks the token alone: `None` for anything not a link of ours. No store read.
    fn verify(&self, token: &str) -> Option<VerifiedLink> {
        let verified = self.keys.as_ref().and_then(|keys| keys.verify(token));
        match &verified {
            Some(link) => {
                telemetry::record_intervention_id(&link.intervention_id);
            }
            None => {
                tracing::info!(token_digest = %token_digest(token), "link refused: not a valid link")
            }
        }
        verified
    }

    /// The intervention, its ids recorded on the operation's span.
    async fn load(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        let found = self.store.get(id).await?;
        if let Some(intervention) = &found {
            telemetry::record_intervention(intervention);
        }
        Ok(found)
    }
}

/// Runs one operation inside its `intervention` span (so every log line carries its ids), then lets
/// `count` record the operation's metric from its answer.
async fn traced<T>(operation: &'static str, count: impl FnOnce(&T), body: impl Future<Output = T>) -> T {
    let answer = body.instrument(telemetry::intervention_span(operation)).await;
    count(&answer);
    answer
}

/// How often a vote, the timeout, a cancel or a reminder is tried again on a newer read before giving up:
/// each retry means a vote was counted first, so at most one per reviewer is ever needed.
const VOTE_ATTEMPTS: usize = 2 * crate::domain::creation::MAX_REVIEWERS + 2;

/// The reviewer a verified link is for: `Some(None)` for the one link of an intervention without reviewers,
/// `Some(Some(index))` for a named reviewer's link; `None` when the link and the intervention disagree (a
/// reviewer's link to an intervention without reviewers, an index past its reviewers, or the one link to
/// an intervention with reviewers, the requester's own link): that link was never issued.
fn link_reviewer(intervention: &Intervention, reviewer: Option<u8>) -> Option<Option<usize>> {
    match (intervention.reviewers.is_empty(), reviewer) {
        (true, None) => Some(None),
        (false, Some(index))
            if usize::from(index) < intervention.reviewers.len() && !intervention.is_requester(usize::from(index)) =>
        {
            Some(Some(usize::from(index)))
        }
        _ => None,
    }
}

/// The option a verified link confirms: `Some(None)` for a link to the form, `Some(Some(value))` for a
/// one-click link whose index is an option of the intervention's one-click field; `None` when the
/// intervention's form is not one-click or has no such option: that link was never issued.
fn link_option(intervention: &Intervention, option: Option<u8>) -> Option<Option<String>> {
    match option {
        None => Some(None),
        Some(index) => {
            let (_, value) = intervention.form.as_deref()?.one_click_option(index)?;
            Some(Some(value.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests;

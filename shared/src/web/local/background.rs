//! The background work of the local server: the publisher that moves accepted submissions onto the queue
//! (the embedded stand-in for the stream) and the timer that fires due timeouts and reminders.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::model::{ReminderRefusal, TimeoutRefusal};
use crate::domain::time::Clock;
use crate::domain::time::Timestamp;
use crate::memory::{MemoryScheduler, MemoryStore};
use crate::ports::queue::ContinuationQueue;
use crate::ports::receipts::ReceiptSigner;
use crate::ports::schedule::InterventionTimers;
use crate::ports::store::{InterventionStore, ReminderOutcome, TimeoutOutcome};
use crate::service::{close_expired, publish_outbox, send_messages, Channels, Outlets, Service};

/// Moves accepted submissions onto the queue: at once when the in-memory store signals one, and on every
/// pass (the outbox sweep) otherwise.
pub(super) async fn run_publisher(
    store: Arc<dyn InterventionStore>,
    queue: Arc<dyn ContinuationQueue>,
    receipts: Arc<dyn ReceiptSigner>,
    channels: Channels,
    signal: Option<Arc<MemoryStore>>,
    clock: Arc<dyn Clock>,
) {
    loop {
        // The embedded stand-in for the stream: everything recorded so far, at once.
        let now = clock.now();
        let messengers = channels.messengers();
        let outlets = Outlets { queue: queue.as_ref(), tasks: None, receipts: receipts.as_ref(), messengers };
        if let Err(error) = publish_outbox(store.as_ref(), outlets, now, now).await {
            tracing::warn!(error = %error, "publishing continuations failed; retrying");
        }
        if let Err(error) = send_messages(store.as_ref(), messengers, now, now).await {
            tracing::warn!(error = %error, "sending messages to reviewers failed; retrying");
        }
        // Slack messages of what ended (a cancel, an expiry; a decision was edited as it was published).
        if let Err(error) = close_expired(store.as_ref(), messengers, Timestamp::from_millis(i64::MAX), now).await {
            tracing::warn!(error = %error, "editing ended Slack messages failed; retrying");
        }
        match &signal {
            Some(memory) => tokio::select! {
                () = memory.outbox_changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            },
            None => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Fires due timeouts every 100 ms (so within a second of expiry); a timer that fired early (the clock
/// moved back) is set again.
pub(super) async fn run_timer(service: Service, scheduler: Arc<MemoryScheduler>) {
    loop {
        for id in scheduler.take_due(service.now()) {
            match service.fire_timeout(&id).await {
                Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotDue)) | Err(_) => {
                    let retry_at = service.now().plus_millis(1_000);
                    let _ = scheduler.schedule(&id, retry_at).await;
                }
                Ok(_) => {}
            }
        }
        for id in scheduler.take_due_reminders(service.now()) {
            match service.fire_reminder(&id).await {
                Ok(ReminderOutcome::Refused(ReminderRefusal::NotDue)) | Err(_) => {
                    let retry_at = service.now().plus_millis(1_000);
                    let _ = scheduler.schedule_reminder(&id, retry_at).await;
                }
                Ok(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

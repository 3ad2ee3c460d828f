//! The reminder's timer fired: the one reminder, queued while the intervention is still pending.

use super::{traced, Service, VOTE_ATTEMPTS};
use crate::domain::continuation::Continuation;
use crate::domain::id::InterventionId;
use crate::domain::lifecycle;
use crate::domain::message::plan_reminders;
use crate::domain::model::ReminderRefusal;
use crate::ports::store::{ReminderOutcome, StoreError};
use crate::telemetry::{self, metric};

fn count(result: &Result<ReminderOutcome, StoreError>) {
    if let Ok(ReminderOutcome::Queued) = result {
        metrics::counter!(metric::REMINDERS_QUEUED).increment(1);
    }
}

impl Service {
    /// The reminder's timer fired: queues the one reminder if the intervention is still pending (its
    /// reminded reviewers who have not answered, with their links); otherwise does nothing and says why.
    pub async fn fire_reminder(&self, id: &InterventionId) -> Result<ReminderOutcome, StoreError> {
        traced("reminder", count, async {
            let now = self.clock.now();
            telemetry::record_intervention_id(id);
            // Each stale attempt means a submission was accepted since the read: at most one per use.
            for _ in 0..VOTE_ATTEMPTS {
                let Some(intervention) = self.load(id).await? else {
                    tracing::warn!("reminder fired for an intervention that was never stored; nothing to do");
                    return Ok(ReminderOutcome::Refused(ReminderRefusal::NotStored));
                };
                let change = lifecycle::remind(&intervention, now);
                // The reminder reaches the reviewers it names who have not answered, where their request did.
                let messages = if change.is_ok() && intervention.reviewers.iter().any(|r| r.notify.is_some()) {
                    plan_reminders(&intervention, &self.store.messages(id).await?, now)
                } else {
                    Vec::new()
                };
                let outcome = match (change, Continuation::for_reminder(&intervention)) {
                    (Ok(change), Some(continuation)) => {
                        self.store.remind(&intervention, &continuation, &messages, &change).await?
                    }
                    (Err(refusal), _) => ReminderOutcome::Refused(refusal),
                    (Ok(_), None) => ReminderOutcome::Refused(ReminderRefusal::NoReminder),
                };
                match outcome {
                    ReminderOutcome::Queued => tracing::info!("still pending: reminder recorded"),
                    ReminderOutcome::Refused(refusal) => {
                        tracing::info!(reason = refusal.reason(), "reminder does nothing")
                    }
                    ReminderOutcome::Stale => continue,
                }
                return Ok(outcome);
            }
            Err(StoreError::Unavailable("the reminder kept meeting newer submissions; nothing was recorded".into()))
        })
        .await
    }
}

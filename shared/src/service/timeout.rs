//! The link's timer fired: the timeout continuation, queued exactly once if nothing answered in time.

use super::{traced, Service, VOTE_ATTEMPTS};
use crate::domain::continuation::Continuation;
use crate::domain::id::InterventionId;
use crate::domain::lifecycle;
use crate::domain::model::TimeoutRefusal;
use crate::ports::store::{StoreError, TimeoutOutcome};
use crate::telemetry::{self, metric};

fn count(result: &Result<TimeoutOutcome, StoreError>) {
    if let Ok(TimeoutOutcome::Queued) = result {
        metrics::counter!(metric::TIMEOUTS_QUEUED).increment(1);
    }
}

impl Service {
    /// The link's timer fired: queues the timeout continuation exactly once if the link expired unanswered
    /// (and the run was not cancelled); otherwise does nothing and says why.
    pub async fn fire_timeout(&self, id: &InterventionId) -> Result<TimeoutOutcome, StoreError> {
        traced("timeout", count, async {
            let now = self.clock.now();
            telemetry::record_intervention_id(id);
            let mut outcome = TimeoutOutcome::Refused(TimeoutRefusal::Moved);
            // Decided again on a fresh read while votes move the decision log.
            for _ in 0..VOTE_ATTEMPTS {
                let Some(intervention) = self.load(id).await? else {
                    tracing::warn!("timeout fired for an intervention that was never stored; nothing to do");
                    return Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
                };
                outcome = match Continuation::for_timeout(&intervention) {
                    None => TimeoutOutcome::Refused(TimeoutRefusal::NoTimeoutContinuation),
                    Some(continuation) => match lifecycle::time_out(&intervention, &continuation.id, now) {
                        Ok(change) => self.store.time_out(&intervention, &continuation, &change).await?,
                        Err(refusal) => TimeoutOutcome::Refused(refusal),
                    },
                };
                if outcome != TimeoutOutcome::Refused(TimeoutRefusal::Moved) {
                    break;
                }
            }
            match outcome {
                TimeoutOutcome::Queued => tracing::info!("link expired unanswered: timeout continuation recorded"),
                // Never "nothing to do": the timer would be spent while the timeout is still due.
                TimeoutOutcome::Refused(TimeoutRefusal::Moved) => {
                    return Err(StoreError::Unavailable(
                        "the timeout kept meeting newer votes; nothing was recorded".into(),
                    ))
                }
                TimeoutOutcome::Refused(refusal) => tracing::info!(reason = refusal.reason(), "timeout does nothing"),
            }
            Ok(outcome)
        })
        .await
    }
}

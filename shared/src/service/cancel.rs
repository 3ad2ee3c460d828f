//! Cancelling: one intervention (its link answers Link has expired from then on), or every one of a run
//! that ended.

use super::{traced, Service};
use crate::domain::id::InterventionId;
use crate::domain::model::InterventionState;
use crate::ports::store::{CancelOutcome, StoreError};
use crate::telemetry::{self, metric};

/// What a cancel answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancellation {
    /// Cancelled (now or before): the link answers Link has expired and nothing is ever queued.
    Cancelled,
    /// Too late: a continuation is already queued; nothing changed.
    TooLate {
        /// The state the intervention keeps.
        state: InterventionState,
        /// The ids of the continuations already queued.
        continuation_ids: Vec<String>,
    },
    /// No intervention with this id.
    NotFound,
}

impl Service {
    /// The run is no longer available: its link answers "Link has expired" from now on — but only while
    /// nothing was accepted or timed out; after that it is too late, and the record keeps its state.
    pub async fn cancel(&self, id: &InterventionId) -> Result<Cancellation, StoreError> {
        traced("cancel", |_| {}, async {
            telemetry::record_intervention_id(id);
            let now = self.clock.now();
            match self.store.cancel(id, now).await? {
                CancelOutcome::Cancelled => {
                    tracing::info!("run cancelled");
                    metrics::counter!(metric::INTERVENTIONS_CANCELLED).increment(1);
                    self.unschedule(id).await;
                    self.unschedule_reminder(id).await;
                    Ok(Cancellation::Cancelled)
                }
                CancelOutcome::TooLate(intervention) => {
                    let continuation_ids = self.store.continuations(id).await?.into_iter().map(|c| c.id).collect();
                    tracing::info!("cancel refused: a continuation is already queued");
                    Ok(Cancellation::TooLate { state: intervention.state_at(now), continuation_ids })
                }
                CancelOutcome::NotFound => Ok(Cancellation::NotFound),
            }
        })
        .await
    }

    /// The run with this correlation id ended (stopped, failed, timed out): cancels each of its
    /// interventions that nothing answered yet; returns each id with what its cancel answered.
    pub async fn cancel_run(&self, correlation_id: &str) -> Result<Vec<(InterventionId, Cancellation)>, StoreError> {
        let mut answers = Vec::new();
        for id in self.store.by_correlation(correlation_id).await? {
            answers.push((id, self.cancel(&id).await?));
        }
        Ok(answers)
    }
}

//! A waiting run (a `.waitForTaskToken` step, or a durable function's callback) attaches its token to an
//! intervention.

use super::{deliver_task, traced, Delivery, Service};
use crate::domain::continuation::Outcome;
use crate::domain::lifecycle;
use crate::domain::task::{TaskAttachment, WaitKind};
use crate::ports::store::{AttachOutcome, StoreError};
use crate::ports::tasks::TaskError;
use crate::telemetry;

/// What attaching a waiting run's task token answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The run waits; the decision is delivered when it is recorded.
    Waiting,
    /// A decision was recorded before: it was delivered now.
    Delivered,
}

/// Why a task token was not attached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// No intervention with this id.
    #[error("interventionId: no intervention with this id")]
    NotFound,
    /// The waiting run's service refused the token (its kind, the service's code): the attempt is gone.
    #[error("{}", refused(*.0, .1))]
    TokenRefused(WaitKind, &'static str),
    /// The decision went to another token already.
    #[error("interventionId: its decision was delivered to another task already")]
    AlreadyDelivered,
    /// This deployment cannot answer waiting runs (no client, or no receipt signer).
    #[error("this deployment has no client for waiting runs or no receipt signer")]
    NoTasks,
    /// Storage or Step Functions failed; retrying is safe.
    #[error("{0}")]
    Unavailable(String),
}

/// The refusal, named by the field that carried the token.
fn refused(kind: WaitKind, code: &str) -> String {
    match kind {
        WaitKind::StepFunctions => format!("taskToken: Step Functions refused the token ({code})"),
        WaitKind::DurableFunction => format!("callbackId: Lambda refused the callback id ({code})"),
    }
}

impl Service {
    /// A `.waitForTaskToken` step attaches its token: the decision goes to that run when it is recorded,
    /// or now if it was recorded before. The token is proved with a heartbeat before it is stored.
    pub async fn attach_task(&self, attachment: &TaskAttachment) -> Result<Attached, AttachError> {
        traced("attach", |_| {}, async {
            let (id, kind) = (attachment.intervention_id, attachment.token.kind());
            telemetry::record_intervention_id(&id);
            let (Some(tasks), Some(receipts)) = (&self.tasks, &self.receipts) else { return Err(AttachError::NoTasks) };
            let unavailable = |e: StoreError| AttachError::Unavailable(e.to_string());
            if self.store.get(&id).await.map_err(unavailable)?.is_none() {
                return Err(AttachError::NotFound);
            }
            match tasks.heartbeat(&attachment.token).await {
                Ok(()) => {}
                Err(TaskError::Gone(gone)) => return Err(AttachError::TokenRefused(kind, gone.code())),
                Err(TaskError::Unavailable(reason) | TaskError::Unconfirmed(reason)) => {
                    return Err(AttachError::Unavailable(reason))
                }
            }
            let now = self.clock.now();
            let change = lifecycle::attach(&attachment.token, now);
            match self.store.attach_task(&id, &change).await.map_err(unavailable)? {
                AttachOutcome::Attached(_) => {}
                AttachOutcome::AlreadyDelivered => return Err(AttachError::AlreadyDelivered),
                AttachOutcome::NotFound => return Err(AttachError::NotFound),
            }
            tracing::info!("a run waits on the intervention");
            // A decision recorded before the token came is delivered now, by the publisher's own routine.
            // A reminder is no decision: never delivered to the run.
            let continuations = self.store.continuations(&id).await.map_err(unavailable)?;
            let Some(first) = continuations.into_iter().find(|c| c.outcome != Outcome::Reminder) else {
                return Ok(Attached::Waiting);
            };
            // `deliver_task` sends the intervention's first answer, whichever answer it is handed.
            match deliver_task(self.store.as_ref(), tasks.as_ref(), receipts.as_ref(), &first, now).await {
                Ok(Delivery::Delivered | Delivery::Unconfirmed) => Ok(Attached::Delivered),
                Ok(Delivery::Gone(code)) => Err(AttachError::TokenRefused(kind, code)),
                // Another publisher holds the claim: it delivers.
                Ok(Delivery::NotWaiting) => Ok(Attached::Waiting),
                Err(error) => Err(AttachError::Unavailable(error.to_string())),
            }
        })
        .await
    }
}

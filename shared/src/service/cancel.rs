//! Cancelling: one intervention (its link answers Link has expired from then on), or every one of a run
//! that ended.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::{traced, Service, VOTE_ATTEMPTS};
use crate::domain::id::InterventionId;
use crate::domain::lifecycle::{self, Operator, Settlement};
use crate::domain::model::{Intervention, InterventionState};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::ports::store::{CancelOutcome, StoreError};
use crate::ports::tasks::TaskError;
use crate::telemetry::{self, metric};

/// How many interventions of an ended run are cancelled at once: 500 take seconds, not minutes, and stay
/// far below DynamoDB's and the Scheduler's request rates (the SDK retries a throttled call).
const RUN_CONCURRENCY: usize = 16;

/// How many times a run's cancel reads its interventions from the `byCorrelation` index, which is
/// eventually consistent: a link created just before the run ended may not be in it yet.
pub const INDEX_LOOKS: usize = 3;

/// The wait before each look after the first.
pub const INDEX_WAIT: Duration = Duration::from_secs(1);

/// An intervention of the run created this recently means its siblings may not be in the index yet.
const INDEX_LAG_MILLIS: i64 = 10_000;

/// The error an operator's cancel fails a waiting run with (what its `Catch` routes on).
pub const CANCELLED_ERROR: &str = "InterventionCancelled";

/// The cause that goes with it.
const CANCELLED_CAUSE: &str = "The intervention was cancelled by an operator: its links answer Link has expired.";

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
        self.cancel_as(id, None).await
    }

    /// [`Service::cancel`] by an operator, who and why recorded in the cancel's decision log entry (the
    /// record's `actions`).
    pub async fn cancel_as(
        &self,
        id: &InterventionId,
        operator: Option<&Operator>,
    ) -> Result<Cancellation, StoreError> {
        traced("cancel", |_| {}, async {
            telemetry::record_intervention_id(id);
            // Read first: the cancel's decision log entry follows the head read.
            let Some(intervention) = self.load(id).await? else { return Ok(Cancellation::NotFound) };
            let waiting = matches!(intervention.task, TaskStatus::Waiting { .. });
            let cancellation = self.cancel_stored(intervention, operator).await?;
            // An operator's cancel tells a run that waits on it at once, instead of leaving it to its
            // heartbeat (a run that ended is not told: it is gone).
            if cancellation == Cancellation::Cancelled && waiting {
                self.fail_waiting_run(id).await?;
            }
            Ok(cancellation)
        })
        .await
    }

    /// Fails the task of the run waiting on the cancelled intervention `id` with [`CANCELLED_ERROR`], once
    /// (under the delivery's claim); records it gone with that name. A Step Functions that cannot be
    /// reached leaves the run to its heartbeat, and says so.
    async fn fail_waiting_run(&self, id: &InterventionId) -> Result<(), StoreError> {
        let Some(tasks) = &self.tasks else { return Ok(()) };
        let now = self.clock.now();
        let Some(token) = self.store.claim_task(id, &lifecycle::claim(now)).await? else { return Ok(()) };
        let settlement = match tasks.fail(&token, CANCELLED_ERROR, CANCELLED_CAUSE).await {
            Ok(()) => {
                tracing::info!(error = CANCELLED_ERROR, "the waiting run was failed: the intervention is cancelled");
                Settlement::Gone(CANCELLED_ERROR.to_owned())
            }
            Err(TaskError::Gone(gone)) => Settlement::Gone(gone.code().to_owned()),
            Err(error) => {
                tracing::warn!(error = %error, "failing the waiting run failed; it ends at its heartbeat");
                Settlement::Released
            }
        };
        self.store.settle_task(id, &lifecycle::settle(&token, &settlement, now)).await
    }

    /// The store's cancel, decided on `read` and again on a fresh read while votes move the decision
    /// log; when it cancels, the timers the intervention has are removed.
    async fn cancel_stored(&self, read: Intervention, operator: Option<&Operator>) -> Result<Cancellation, StoreError> {
        let (id, mut read) = (read.id, read);
        for _ in 0..VOTE_ATTEMPTS {
            let now = self.clock.now();
            match self.store.cancel(&read, &lifecycle::cancel(&read, now, operator)).await? {
                CancelOutcome::Cancelled => {
                    tracing::info!("run cancelled");
                    metrics::counter!(metric::INTERVENTIONS_CANCELLED).increment(1);
                    if read.on_timeout.is_some() {
                        self.unschedule(&id).await;
                    }
                    if read.remind.is_some() {
                        self.unschedule_reminder(&id).await;
                    }
                    return Ok(Cancellation::Cancelled);
                }
                CancelOutcome::TooLate(intervention) => return self.too_late(&id, &intervention, now).await,
                CancelOutcome::NotFound => return Ok(Cancellation::NotFound),
                CancelOutcome::Stale => match self.load(&id).await? {
                    Some(newer) => read = newer,
                    None => return Ok(Cancellation::NotFound),
                },
            }
        }
        Err(StoreError::Unavailable("the cancel kept meeting newer votes; nothing was recorded".into()))
    }

    /// Too late: the state the intervention keeps, and the continuations already recorded.
    async fn too_late(
        &self,
        id: &InterventionId,
        intervention: &Intervention,
        now: Timestamp,
    ) -> Result<Cancellation, StoreError> {
        let continuation_ids = self.store.continuations(id).await?.into_iter().map(|c| c.id).collect();
        tracing::info!("cancel refused: a continuation is already queued");
        Ok(Cancellation::TooLate { state: intervention.state_at(now), continuation_ids })
    }

    /// The run with this correlation id ended (stopped, failed, timed out): cancels each of its
    /// interventions that nothing answered yet, [`RUN_CONCURRENCY`] at a time; returns each id with what
    /// its cancel answered. The index is read again after [`INDEX_WAIT`] (at most [`INDEX_LOOKS`] reads)
    /// while it showed nothing, or showed an intervention created in the last ten seconds.
    pub async fn cancel_run(&self, correlation_id: &str) -> Result<Vec<(InterventionId, Cancellation)>, StoreError> {
        self.cancel_run_pausing(correlation_id, tokio::time::sleep).await
    }

    /// [`Service::cancel_run`] with the wait between two looks given (a test's pause sleeps not at all).
    pub(super) async fn cancel_run_pausing<P, F>(
        &self,
        correlation_id: &str,
        mut pause: P,
    ) -> Result<Vec<(InterventionId, Cancellation)>, StoreError>
    where
        P: FnMut(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut answers = Vec::new();
        let mut seen = BTreeSet::new();
        for look in 1..=INDEX_LOOKS {
            if look > 1 {
                pause(INDEX_WAIT).await;
            }
            let found = self.store.by_correlation(correlation_id).await?;
            let new: Vec<InterventionId> = found.into_iter().filter(|id| seen.insert(*id)).collect();
            let newest = self.cancel_each(&new, &mut answers).await?;
            let recent = newest.is_some_and(|at| self.clock.now().millis() - at.millis() < INDEX_LAG_MILLIS);
            if !(seen.is_empty() || recent) {
                break;
            }
            tracing::info!(look, found = seen.len(), "the run's index may not show all its interventions yet");
        }
        Ok(answers)
    }

    /// Cancels these interventions, [`RUN_CONCURRENCY`] at a time, and answers the newest creation time
    /// among them. Each is tried even when another fails, so that a retry finds it final.
    async fn cancel_each(
        &self,
        ids: &[InterventionId],
        answers: &mut Vec<(InterventionId, Cancellation)>,
    ) -> Result<Option<Timestamp>, StoreError> {
        let mut results = stream::iter(ids)
            .map(|id| async move { (*id, self.cancel_ended(id).await) })
            .buffer_unordered(RUN_CONCURRENCY);
        let (mut newest, mut failure) = (None, None);
        while let Some((id, result)) = results.next().await {
            match result {
                Ok((answer, created_at)) => {
                    newest = newest.max(created_at);
                    answers.push((id, answer));
                }
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        failure.map_or(Ok(newest), Err)
    }

    /// One intervention of an ended run, with its creation time: one read answers one cancelled before
    /// (a retry's case); otherwise the store's cancel, removing only the timers it has.
    async fn cancel_ended(&self, id: &InterventionId) -> Result<(Cancellation, Option<Timestamp>), StoreError> {
        traced("cancel", |_| {}, async {
            telemetry::record_intervention_id(id);
            let Some(intervention) = self.load(id).await? else { return Ok((Cancellation::NotFound, None)) };
            let created_at = Some(intervention.created_at);
            // The cancel's own guards on the copy read: a final one costs no write (a retry's case).
            let now = self.clock.now();
            match lifecycle::cancel(&intervention, now, None).refusal(&intervention) {
                Some(lifecycle::CancelRefusal::AlreadyCancelled) => {
                    tracing::info!("run cancelled before");
                    return Ok((Cancellation::Cancelled, created_at));
                }
                Some(lifecycle::CancelRefusal::TooLate) => {
                    return Ok((self.too_late(id, &intervention, now).await?, created_at));
                }
                Some(lifecycle::CancelRefusal::Moved) | None => {}
            }
            Ok((self.cancel_stored(intervention, None).await?, created_at))
        })
        .await
    }
}

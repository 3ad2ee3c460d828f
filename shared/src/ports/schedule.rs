//! The intervention's timers: the timeout's (with an `onTimeout`) and the reminder's (with a `remind`),
//! each set before the intervention is stored (after it, by the creation whose write won, when the id
//! comes from an idempotency key) and removed when it is answered or cancelled. A timer that fires for
//! nothing (never stored, answered, cancelled) is harmless: the lifecycle's guards decide. On AWS both
//! invoke the `timeout` function, which fires the timeout or, with `"reminder": true`, the reminder.

use async_trait::async_trait;

use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;

/// A timer could not be set or removed.
#[derive(Debug, thiserror::Error)]
#[error("the timeout scheduler is unavailable: {0}")]
pub struct ScheduleError(pub String);

/// Where an intervention's timers are set: its timeout and its reminder.
#[async_trait]
pub trait InterventionTimers: Send + Sync {
    /// Fires the timeout of `id` at (or soon after) `at`.
    async fn schedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError>;

    /// Moves the existing timeout timer of `id` to `at` (an operator's extend): never creates one, so a
    /// deployment may grant this without the right to create timers.
    async fn reschedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        self.schedule(id, at).await
    }

    /// Removes the timer of `id`, if there is one.
    async fn unschedule(&self, id: &InterventionId) -> Result<(), ScheduleError>;

    /// Fires the reminder of `id` at (or soon after) `at`: a second timer, beside the timeout's.
    async fn schedule_reminder(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError>;

    /// Removes the reminder timer of `id`, if there is one.
    async fn unschedule_reminder(&self, id: &InterventionId) -> Result<(), ScheduleError>;
}

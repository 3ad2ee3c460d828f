//! The timeout timer port: one timer per intervention with an `onTimeout`, set before the intervention is
//! stored and removed when it is answered or cancelled. A timer that fires for nothing (never stored,
//! answered, cancelled) is harmless: the timeout's own conditional write decides.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::time::Timestamp;
use crate::token::InterventionId;

/// A timer could not be set or removed.
#[derive(Debug, thiserror::Error)]
#[error("the timeout scheduler is unavailable: {0}")]
pub struct ScheduleError(pub String);

/// Where timeouts are scheduled.
#[async_trait]
pub trait TimeoutScheduler: Send + Sync {
    /// Fires the timeout of `id` at (or soon after) `at`.
    async fn schedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError>;

    /// Removes the timer of `id`, if there is one.
    async fn unschedule(&self, id: &InterventionId) -> Result<(), ScheduleError>;
}

/// Timers in memory, fired by the local server's loop.
#[derive(Default)]
pub struct MemoryScheduler {
    timers: Mutex<BTreeSet<(Timestamp, InterventionId)>>,
}

impl MemoryScheduler {
    /// No timers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&self, now: Timestamp) -> Vec<InterventionId> {
        let Ok(mut timers) = self.timers.lock() else { return Vec::new() };
        let due: Vec<(Timestamp, InterventionId)> = timers.iter().take_while(|(at, _)| *at <= now).copied().collect();
        for timer in &due {
            timers.remove(timer);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }
}

#[async_trait]
impl TimeoutScheduler for MemoryScheduler {
    async fn schedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        let mut timers = self.timers.lock().map_err(|_| ScheduleError("the timer lock is poisoned".into()))?;
        timers.retain(|(_, other)| other != id);
        timers.insert((at, *id));
        Ok(())
    }

    async fn unschedule(&self, id: &InterventionId) -> Result<(), ScheduleError> {
        let mut timers = self.timers.lock().map_err(|_| ScheduleError("the timer lock is poisoned".into()))?;
        timers.retain(|(_, other)| other != id);
        Ok(())
    }
}

//! Timers in memory, fired by the local server's loop.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;
use crate::ports::schedule::{ScheduleError, TimeoutScheduler};

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

//! Timers in memory, fired by the local server's loop.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;
use crate::ports::schedule::{InterventionTimers, ScheduleError};

/// Timers in memory, fired by the local server's loop.
#[derive(Default)]
pub struct MemoryScheduler {
    timers: Mutex<BTreeSet<(Timestamp, InterventionId)>>,
    reminders: Mutex<BTreeSet<(Timestamp, InterventionId)>>,
}

fn take(set: &Mutex<BTreeSet<(Timestamp, InterventionId)>>, now: Timestamp) -> Vec<InterventionId> {
    let Ok(mut timers) = set.lock() else { return Vec::new() };
    let due: Vec<(Timestamp, InterventionId)> = timers.iter().take_while(|(at, _)| *at <= now).copied().collect();
    for timer in &due {
        timers.remove(timer);
    }
    due.into_iter().map(|(_, id)| id).collect()
}

fn set(
    set: &Mutex<BTreeSet<(Timestamp, InterventionId)>>,
    id: &InterventionId,
    at: Option<Timestamp>,
) -> Result<(), ScheduleError> {
    let mut timers = set.lock().map_err(|_| ScheduleError("the timer lock is poisoned".into()))?;
    timers.retain(|(_, other)| other != id);
    if let Some(at) = at {
        timers.insert((at, *id));
    }
    Ok(())
}

impl MemoryScheduler {
    /// No timers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&self, now: Timestamp) -> Vec<InterventionId> {
        take(&self.timers, now)
    }

    /// Removes and returns the reminder timers due at `now`, earliest first.
    pub fn take_due_reminders(&self, now: Timestamp) -> Vec<InterventionId> {
        take(&self.reminders, now)
    }

    /// When the reminder of `id` is set for, if it is.
    pub fn reminder_at(&self, id: &InterventionId) -> Option<Timestamp> {
        self.reminders.lock().ok()?.iter().find(|(_, other)| other == id).map(|(at, _)| *at)
    }
}

#[async_trait]
impl InterventionTimers for MemoryScheduler {
    async fn schedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        set(&self.timers, id, Some(at))
    }

    async fn unschedule(&self, id: &InterventionId) -> Result<(), ScheduleError> {
        set(&self.timers, id, None)
    }

    async fn schedule_reminder(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        set(&self.reminders, id, Some(at))
    }

    async fn unschedule_reminder(&self, id: &InterventionId) -> Result<(), ScheduleError> {
        set(&self.reminders, id, None)
    }
}

//! Timeout timers as one-time EventBridge Scheduler schedules, one per intervention, named by its id:
//! the schedule invokes the timeout function (asynchronously) with `{"interventionId": …}`, retrying
//! the hand-over to Lambda, then dead-lettering it; it deletes itself after it fires. A failing
//! function is retried by Lambda's own asynchronous retries.

use async_trait::async_trait;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use aws_sdk_scheduler::Client;

use super::lazy::LazyClient;
use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;
use crate::ports::schedule::{InterventionTimers, ScheduleError};

/// Where and how the schedules invoke the timeout function.
#[derive(Clone, Debug)]
pub struct SchedulerTarget {
    /// The schedule group the schedules live in.
    pub group: String,
    /// The timeout function's ARN.
    pub function_arn: String,
    /// The role EventBridge Scheduler assumes to invoke it.
    pub role_arn: String,
    /// The queue that receives invocations that failed every retry.
    pub dead_letter_arn: Option<String>,
}

/// Timeout timers on EventBridge Scheduler.
#[derive(Clone)]
pub struct EventBridgeScheduler {
    client: LazyClient<Client>,
    target: SchedulerTarget,
}

fn error(e: impl std::fmt::Display) -> ScheduleError {
    ScheduleError(e.to_string())
}

/// `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the second so that it never fires before expiry.
pub fn at_expression(at: Timestamp) -> String {
    let seconds = Timestamp::from_millis(at.epoch_seconds_ceil() * 1000).to_rfc3339();
    format!("at({})", &seconds[..19])
}

impl EventBridgeScheduler {
    /// Schedules into `target.group`, invoking `target.function_arn`.
    pub fn new(client: impl Into<LazyClient<Client>>, target: SchedulerTarget) -> Self {
        Self { client: client.into(), target }
    }
}

/// The name of an intervention's reminder schedule (beside the timeout's, named by the id alone).
pub fn reminder_schedule_name(id: &InterventionId) -> String {
    format!("{id}-reminder")
}

#[async_trait]
impl InterventionTimers for EventBridgeScheduler {
    async fn schedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        let input = serde_json::json!({ "interventionId": id.to_string() });
        self.create(id.to_string(), input, at).await
    }

    async fn reschedule(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        let input = serde_json::json!({ "interventionId": id.to_string() });
        self.update(id.to_string(), input, at).await
    }

    async fn unschedule(&self, id: &InterventionId) -> Result<(), ScheduleError> {
        self.delete(id.to_string()).await
    }

    async fn schedule_reminder(&self, id: &InterventionId, at: Timestamp) -> Result<(), ScheduleError> {
        let input = serde_json::json!({ "interventionId": id.to_string(), "reminder": true });
        self.create(reminder_schedule_name(id), input, at).await
    }

    async fn unschedule_reminder(&self, id: &InterventionId) -> Result<(), ScheduleError> {
        self.delete(reminder_schedule_name(id)).await
    }
}

impl EventBridgeScheduler {
    /// The timer's target (the timeout function with `input`) and its window.
    fn parts(&self, input: serde_json::Value) -> Result<(Target, FlexibleTimeWindow), ScheduleError> {
        let mut target = Target::builder()
            .arn(&self.target.function_arn)
            .role_arn(&self.target.role_arn)
            .input(input.to_string())
            .retry_policy(
                RetryPolicy::builder().maximum_retry_attempts(185).maximum_event_age_in_seconds(86_400).build(),
            );
        if let Some(dead_letter) = &self.target.dead_letter_arn {
            target = target.dead_letter_config(DeadLetterConfig::builder().arn(dead_letter).build());
        }
        let target = target.build().map_err(error)?;
        let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(error)?;
        Ok((target, window))
    }

    async fn create(&self, name: String, input: serde_json::Value, at: Timestamp) -> Result<(), ScheduleError> {
        let (target, window) = self.parts(input.clone())?;
        let created = self
            .client
            .get()
            .create_schedule()
            .name(&name)
            .group_name(&self.target.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // A retried creation (same idempotency key) whose first attempt set the timer but stored
            // nothing: the one timer is moved to this attempt's expiry.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conflict_exception()) => {
                self.update(name, input, at).await
            }
            Err(e) => Err(error(aws_sdk_scheduler::error::DisplayErrorContext(e))),
        }
    }

    /// Moves the timer `name` to `at` (UpdateSchedule replaces the whole schedule: the same target).
    async fn update(&self, name: String, input: serde_json::Value, at: Timestamp) -> Result<(), ScheduleError> {
        let (target, window) = self.parts(input)?;
        self.client
            .get()
            .update_schedule()
            .name(&name)
            .group_name(&self.target.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await
            .map_err(|e| error(aws_sdk_scheduler::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn delete(&self, name: String) -> Result<(), ScheduleError> {
        let result = self.client.get().delete_schedule().name(name).group_name(&self.target.group).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(error(aws_sdk_scheduler::error::DisplayErrorContext(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_fires_at_or_after_expiry_never_before() {
        let at = Timestamp::parse_rfc3339("2026-11-25T12:00:00.001Z").unwrap();
        assert_eq!(at_expression(at), "at(2026-11-25T12:00:01)");
        let exact = Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").unwrap();
        assert_eq!(at_expression(exact), "at(2026-11-25T12:00:00)");
    }
}

//! The timeout: invoked (asynchronously) by an intervention's one-time schedule with
//! `{"interventionId": …}`. It queues the timeout continuation once (a repeated invocation does
//! nothing); a timer that fired before the link expired fails, so Lambda retries the event later (then
//! sends it to the timeout dead-letter queue), and the link keeps working meanwhile. The reminder's
//! schedule invokes it with `{"interventionId": …, "reminder": true}`: it queues the one reminder if the
//! intervention is still pending (its links were signed at creation: this function has no keys).

use std::sync::Arc;

use human_intervention::aws::lambda::InvocationError;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::model::{ReminderRefusal, TimeoutRefusal};
use human_intervention::domain::time::SystemClock;
use human_intervention::ports::store::{ReminderOutcome, TimeoutOutcome};
use human_intervention::service::Service;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimerFired {
    intervention_id: String,
    #[serde(default)]
    reminder: bool,
}

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let store = human_intervention::aws::store_from_env(&config)?;
    let service = Service::without_links(Arc::new(store), Arc::new(SystemClock));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&service, event))).await
}

async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let result = fire(service, event.payload).await;
    human_intervention::telemetry::flush_metrics();
    result.map_err(Diagnostic::from)
}

async fn fire(service: &Service, payload: Value) -> Result<Value, InvocationError> {
    let fired: TimerFired = serde_json::from_value(payload)
        .map_err(|e| InvocationError::InvalidTimeoutEvent(format!("expected {{\"interventionId\": …}}: {e}")))?;
    let Some(id) = InterventionId::parse(&fired.intervention_id) else {
        return Err(InvocationError::InvalidTimeoutEvent("interventionId is not an intervention id".into()));
    };
    if fired.reminder {
        return match service.fire_reminder(&id).await? {
            ReminderOutcome::Queued => Ok(json!({ "interventionId": fired.intervention_id, "outcome": "reminded" })),
            ReminderOutcome::Refused(ReminderRefusal::NotDue) => Err(InvocationError::ReminderNotDue),
            ReminderOutcome::Refused(refusal) => {
                Ok(json!({ "interventionId": fired.intervention_id, "outcome": "nothing", "reason": refusal.reason() }))
            }
            ReminderOutcome::Stale => Err(InvocationError::ReminderNotDue),
        };
    }
    match service.fire_timeout(&id).await? {
        TimeoutOutcome::Queued => Ok(json!({ "interventionId": fired.intervention_id, "outcome": "queued" })),
        TimeoutOutcome::Refused(TimeoutRefusal::NotDue) => Err(InvocationError::TimeoutNotDue),
        TimeoutOutcome::Refused(refusal) => {
            Ok(json!({ "interventionId": fired.intervention_id, "outcome": "nothing", "reason": refusal.reason() }))
        }
    }
}

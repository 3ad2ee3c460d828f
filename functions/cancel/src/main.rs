//! Cancel: invoked by the EventBridge rule on Step Functions execution status changes (ABORTED, FAILED,
//! TIMED_OUT), it cancels every intervention of that execution (correlation id = the execution's ARN)
//! that nothing answered yet; an operator may invoke it with `{"interventionId": …}`, which also fails a run
//! waiting on it at once (`InterventionCancelled`). A cancel that comes after a submission or a timeout was
//! accepted changes nothing and says so ("tooLate").

use std::sync::Arc;

use human_intervention::aws::events::CancelRequest;
use human_intervention::aws::lambda::InvocationError;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::time::SystemClock;
use human_intervention::service::{Cancellation, Service};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let store = human_intervention::aws::store_from_env(&config)?;
    let service = Service::without_links(Arc::new(store), Arc::new(SystemClock));
    let service = human_intervention::aws::with_timers_from_env(service, &config)?;
    // An operator's cancel fails a run that waits on the intervention at once (SendTaskFailure).
    let service = service.with_tasks(Arc::new(human_intervention::aws::tasks_from_env(&config)));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&service, event))).await
}

async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let result = cancel(service, &event.payload).await;
    human_intervention::telemetry::flush_metrics();
    result.map_err(Diagnostic::from)
}

async fn cancel(service: &Service, event: &Value) -> Result<Value, InvocationError> {
    let answers: Vec<(InterventionId, Cancellation)> = match CancelRequest::from_event(event)? {
        CancelRequest::Run(correlation_id) => service.cancel_run(&correlation_id).await?,
        CancelRequest::Intervention(id, operator) => vec![(id, service.cancel_as(&id, Some(&operator)).await?)],
        CancelRequest::Ignored(status) => return Ok(json!({ "cancelled": [], "tooLate": [], "ignored": status })),
    };
    let mut cancelled = Vec::new();
    let mut too_late = Vec::new();
    let mut not_found = Vec::new();
    for (id, answer) in answers {
        match answer {
            Cancellation::Cancelled => cancelled.push(json!(id.to_string())),
            Cancellation::TooLate { state, continuation_ids } => too_late.push(json!({
                "interventionId": id.to_string(), "state": state, "continuationIds": continuation_ids,
            })),
            Cancellation::NotFound => not_found.push(json!(id.to_string())),
        }
    }
    Ok(json!({ "cancelled": cancelled, "tooLate": too_late, "notFound": not_found }))
}

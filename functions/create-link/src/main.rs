//! Link creation, invoked by a Step Functions task: the link-creation input in, the context with the link
//! out; a bad input fails with `errorType` `InvalidInterventionConfig` and a message naming the setting.
//! Invoked by a `.waitForTaskToken` step with `{"interventionId", "taskToken"}`, it attaches the run's
//! task token instead: the decision goes to that run (at once, if it was recorded before).

use human_intervention::aws::lambda::InvocationError;
use human_intervention::domain::error::ConfigError;
use human_intervention::domain::task::TaskAttachment;
use human_intervention::service::{Attached, CreateError, CreatedLink, Service};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let service = human_intervention::aws::service_from_env(&config).await?;
    let service = human_intervention::aws::with_timers_from_env(service, &config)?;
    let service = human_intervention::aws::with_tasks_from_env(service, &config)?;
    // What an input may name; the channels' secrets stay with the publisher.
    let service = service.with_channels(human_intervention::domain::message::Configured::from_env());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&service, event))).await
}

async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let result = match TaskAttachment::from_payload(&event.payload) {
        Some(attachment) => attach(service, attachment).await,
        None => create(service, &event.payload).await,
    };
    human_intervention::telemetry::flush_metrics();
    result.map_err(Diagnostic::from)
}

async fn create(service: &Service, payload: &Value) -> Result<Value, InvocationError> {
    let created: CreatedLink = match serde_json::to_vec(payload) {
        Ok(input) => service.create(&input).await?,
        Err(error) => return Err(CreateError::Invalid(ConfigError::new("", error.to_string())).into()),
    };
    serde_json::to_value(created).map_err(|e| InvocationError::InvalidResponse(e.to_string()))
}

async fn attach(service: &Service, attachment: Result<TaskAttachment, ConfigError>) -> Result<Value, InvocationError> {
    let attachment = attachment.map_err(CreateError::Invalid)?;
    let task = match service.attach_task(&attachment).await? {
        Attached::Waiting => "waiting",
        Attached::Delivered => "delivered",
    };
    Ok(json!({ "interventionId": attachment.intervention_id.to_string(), "task": task }))
}

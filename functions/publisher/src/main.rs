//! The publisher: the table's stream in, one SQS message per recorded continuation out. A record that
//! cannot be sent is reported as a batch-item failure, so the stream retries from it and never loops on
//! the whole batch. Invoked on a schedule with `{"sweep": true}`, it sends whatever the stream gave up
//! on (everything still in the outbox index). A run waiting on the intervention (a Step Functions task
//! token) gets the first continuation too, once (SendTaskSuccess).

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use human_intervention::aws::lambda::InvocationError;
use human_intervention::aws::stream::{message_records, publish_records, records_of};
use human_intervention::aws::DynamoStore;
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::service::{close_expired, publish_outbox, send_messages, Outlets, SWEEP_AFTER_MILLIS};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let store = human_intervention::aws::store_from_env(&config)?;
    let queue = human_intervention::aws::queue_from_env(&config)?;
    let tasks = human_intervention::aws::tasks_from_env(&config);
    let receipts = human_intervention::aws::receipts_from_env(&config)?;
    let channels = human_intervention::aws::channels_from_env(&config).await?;
    let outlets =
        Outlets { queue: &queue, tasks: Some(&tasks), receipts: receipts.as_ref(), messengers: channels.messengers() };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&store, outlets, event))).await
}

async fn handle(store: &DynamoStore, outlets: Outlets<'_>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let result = if event.payload.get("sweep").and_then(Value::as_bool) == Some(true) {
        sweep(store, outlets).await
    } else {
        stream(store, outlets, event.payload).await
    };
    human_intervention::telemetry::flush_metrics();
    result.map_err(Diagnostic::from)
}

/// The sweep takes only what the stream had its chance to publish: together they send each once. Messages
/// are due by their own time (a retry's); Slack messages of links that ran out are edited.
async fn sweep(store: &DynamoStore, outlets: Outlets<'_>) -> Result<Value, InvocationError> {
    let now = SystemClock.now();
    let published = publish_outbox(store, outlets, now.plus_millis(-SWEEP_AFTER_MILLIS), now).await?;
    // A message is claimed before it is sent: the sweep may take it as soon as it is due.
    let sending = send_messages(store, outlets.messengers, now, now).await?;
    let closed = close_expired(store, outlets.messengers, now, now).await?;
    Ok(
        json!({ "published": published, "sent": sending.sent, "parked": sending.parked, "retrying": sending.retrying, "closed": closed }),
    )
}

async fn stream(store: &DynamoStore, outlets: Outlets<'_>, payload: Value) -> Result<Value, InvocationError> {
    let records = records_of(payload)?;
    let mut response = DynamoDbEventResponse::default();
    message_records(&records, outlets.messengers, store, SystemClock.now()).await;
    if let Some(failed) = publish_records(&records, outlets, store, SystemClock.now()).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(failed);
        response.batch_item_failures.push(failure);
    }
    serde_json::to_value(response).map_err(|e| InvocationError::InvalidResponse(e.to_string()))
}

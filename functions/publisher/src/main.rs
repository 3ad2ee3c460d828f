//! The publisher: the table's stream in, one SQS message per accepted submission out. A record that
//! cannot be sent is reported as a batch-item failure, so the stream retries from it and never loops on
//! the whole batch.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use human_intervention::aws::stream::{publish_records, StreamRecord};
use human_intervention::aws::{DynamoStore, SqsQueue};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config().await;
    let store = human_intervention::aws::store_from_env(&config)?;
    let queue = human_intervention::aws::queue_from_env(&config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| handle(&store, &queue, event))).await
}

async fn handle(
    store: &DynamoStore,
    queue: &SqsQueue,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    let records: Vec<StreamRecord> = event
        .payload
        .records
        .iter()
        .map(|r| StreamRecord {
            sequence_number: r.change.sequence_number.clone().unwrap_or_default(),
            event_name: r.event_name.clone(),
            new_image: serde_json::to_value(&r.change.new_image).unwrap_or_default(),
        })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    if let Some(failed) = publish_records(&records, queue, store).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(failed);
        response.batch_item_failures.push(failure);
    }
    human_intervention::telemetry::flush_metrics();
    Ok(response)
}

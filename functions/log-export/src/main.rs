//! The decision log's export, invoked on a schedule (EventBridge) with `{"environmentIds": […]}`: each
//! environment's log and its next checkpoint written to `LOG_BUCKET` under `LOG_PREFIX` (one object per
//! export). The only writer of checkpoints; a log that does not verify fails the invocation, anchoring
//! nothing. The receipt keys are written beside the exports (`receipt-keys.json`) on every run.

use human_intervention::aws::lambda::InvocationError;
use human_intervention::aws::{s3, DynamoStore};
use human_intervention::domain::time::{Clock, SystemClock};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Scheduled {
    environment_ids: Vec<String>,
}

/// What the export needs, built once per cold start.
struct Exporter {
    store: DynamoStore,
    s3: human_intervention::aws::LazyClient<s3::Client>,
    bucket: String,
    prefix: String,
    receipts: std::sync::Arc<dyn human_intervention::ports::receipts::ReceiptSigner>,
}

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    let config = human_intervention::aws::sdk_config()?;
    let exporter = Exporter {
        store: human_intervention::aws::store_from_env(&config)?,
        s3: human_intervention::aws::deferred(&config, s3::client),
        bucket: human_intervention::aws::env("LOG_BUCKET")?,
        prefix: std::env::var("LOG_PREFIX").unwrap_or_default(),
        receipts: human_intervention::aws::receipts_from_env(&config)?,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&exporter, event))).await
}

async fn handle(exporter: &Exporter, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    export(exporter, event.payload).await.map_err(Diagnostic::from)
}

async fn export(exporter: &Exporter, payload: Value) -> Result<Value, InvocationError> {
    let scheduled: Scheduled = serde_json::from_value(payload)
        .map_err(|e| InvocationError::InvalidExportEvent(format!("expected {{\"environmentIds\": […]}}: {e}")))?;
    let mut keys = Vec::new();
    for environment_id in &scheduled.environment_ids {
        let now = SystemClock.now();
        let key = s3::export_to_s3(
            &exporter.store,
            exporter.s3.get(),
            &exporter.bucket,
            &exporter.prefix,
            environment_id,
            now,
        )
        .await
        .map_err(|e| InvocationError::Export(e.to_string()))?;
        keys.push(key);
    }
    let published = exporter.receipts.public_keys().await.map_err(|e| InvocationError::Export(e.to_string()))?;
    let receipt_keys = s3::publish_receipt_keys(exporter.s3.get(), &exporter.bucket, &exporter.prefix, &published)
        .await
        .map_err(|e| InvocationError::Export(e.to_string()))?;
    Ok(json!({ "bucket": exporter.bucket, "keys": keys, "receiptKeys": receipt_keys }))
}

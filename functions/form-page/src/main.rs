//! The public page behind a link (`GET /i/{token}`), the stylesheet and the receipt keys, on the same
//! router as the local server. It only reads, so it links no timer (EventBridge Scheduler) client.

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let service = human_intervention::aws::service_from_env(&config).await?;
    let service = service.with_receipts(human_intervention::aws::receipts_from_env(&config)?);
    lambda_http::run(human_intervention::web::routes::lambda_router(service)).await
}

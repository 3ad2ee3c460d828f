//! The public page behind a link (`GET /i/{token}` and the stylesheet), on the same router as the local
//! server. It only reads.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    human_intervention::telemetry::init();
    let config = human_intervention::aws::sdk_config().await;
    let service = human_intervention::aws::service_from_env(&config).await?;
    lambda_http::run(human_intervention::http::public_router(service)).await
}

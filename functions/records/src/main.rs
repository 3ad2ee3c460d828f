//! The operator's record routes (`GET /interventions/{id}`, `GET /interventions?environmentId=…`), behind
//! IAM authorisation on the API: never public. It reads only; it holds no link keys.

use std::sync::Arc;

use human_intervention::domain::time::SystemClock;
use human_intervention::service::Service;

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    human_intervention::telemetry::init();
    let config = human_intervention::aws::sdk_config()?;
    let store = human_intervention::aws::store_from_env(&config)?;
    let service = Service::without_links(Arc::new(store), Arc::new(SystemClock));
    lambda_http::run(human_intervention::web::routes::lambda_record_router(service)).await
}

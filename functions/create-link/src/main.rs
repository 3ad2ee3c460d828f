//! Link creation, invoked by a Step Functions task: the link-creation input in, the context with the link
//! out; a bad input fails with `errorType` `InvalidInterventionConfig` and a message naming the setting.

use human_intervention::aws::lambda::InvocationError;
use human_intervention::domain::error::ConfigError;
use human_intervention::service::{CreateError, CreatedLink, Service};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    human_intervention::telemetry::init();
    human_intervention::telemetry::init_metrics(env!("CARGO_PKG_NAME"));
    let config = human_intervention::aws::sdk_config()?;
    let service = human_intervention::aws::service_from_env(&config).await?;
    let service = human_intervention::aws::with_timers_from_env(service, &config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(&service, event))).await
}

async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<CreatedLink, Diagnostic> {
    let result = match serde_json::to_vec(&event.payload) {
        Ok(input) => service.create(&input).await,
        Err(error) => Err(CreateError::Invalid(ConfigError::new("", error.to_string()))),
    };
    human_intervention::telemetry::flush_metrics();
    result.map_err(|error| InvocationError::from(error).into())
}

//! The operator's record routes (`GET /interventions/{id}`, `GET /interventions?environmentId=…`) and
//! actions (`POST /interventions/{id}/cancel|expire|resend|extend`), behind IAM authorisation on the API:
//! never public. Each action is recorded with the IAM caller as its author.

use std::sync::Arc;

use axum::extract::Request;
use human_intervention::domain::message::Configured;
use human_intervention::web::routes::Principal;
use lambda_http::request::RequestContext;

// One invocation at a time: no worker threads to start before the first one (init time, memory).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    human_intervention::telemetry::init();
    let config = human_intervention::aws::sdk_config()?;
    // The link keys: an extend signs new links (a re-send sends those its requests carried).
    let service = human_intervention::aws::service_from_env(&config).await?.with_channels(Configured::from_env());
    let service = human_intervention::aws::with_timers_from_env(service, &config)?;
    // A cancel fails a waiting run at once; an extend heartbeats it.
    let service = service.with_tasks(Arc::new(human_intervention::aws::tasks_from_env(&config)));
    let router =
        human_intervention::web::routes::lambda_record_router(service).layer(axum::middleware::map_request(principal));
    lambda_http::run(router).await
}

/// The IAM caller of an HTTP API route with AWS_IAM authorisation (`requestContext.authorizer.iam.userArn`),
/// as the request's [`Principal`]; none without one (the actions then answer 403).
async fn principal(mut request: Request) -> Request {
    let caller = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|a| a.iam.as_ref()).and_then(|iam| iam.user_arn.clone())
        }
        _ => None,
    };
    if let Some(arn) = caller.filter(|arn| !arn.is_empty()) {
        request.extensions_mut().insert(Principal(arn));
    }
    request
}

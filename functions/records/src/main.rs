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

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP API (payload 2.0) event for `POST /interventions/{id}/expire`, signed by `user_arn` if any.
    fn event(user_arn: Option<&str>) -> Request {
        let authorizer = match user_arn {
            Some(arn) => format!(r#","authorizer":{{"iam":{{"accountId":"123456789012","userArn":"{arn}"}}}}"#),
            None => String::new(),
        };
        let text = format!(
            r#"{{"version":"2.0","routeKey":"POST /interventions/{{id}}/expire","rawPath":"/interventions/x/expire",
            "rawQueryString":"","headers":{{"host":"api.example.com"}},"body":"{{}}","isBase64Encoded":false,
            "requestContext":{{"accountId":"123456789012","apiId":"api","domainName":"api.example.com",
            "http":{{"method":"POST","path":"/interventions/x/expire","protocol":"HTTP/1.1","sourceIp":"10.0.0.1",
            "userAgent":"test"}},"requestId":"r","routeKey":"POST /interventions/{{id}}/expire","stage":"$default",
            "time":"07/Dec/2026:10:00:00 +0000","timeEpoch":1796637600000{authorizer}}}}}"#
        );
        lambda_http::request::from_str(&text).expect("an HTTP API event").map(axum::body::Body::new)
    }

    #[tokio::test]
    async fn the_iam_caller_of_an_http_api_request_is_its_principal_and_none_without_one() {
        let arn = "arn:aws:iam::123456789012:user/ops";
        let signed = principal(event(Some(arn))).await;
        assert_eq!(signed.extensions().get::<Principal>().map(|p| p.0.as_str()), Some(arn));
        let unsigned = principal(event(None)).await;
        assert!(unsigned.extensions().get::<Principal>().is_none());
    }
}

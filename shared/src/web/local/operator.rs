//! The operator routes (create a link; act on one: cancel, expire, resend, extend; list the queued
//! continuations), answered only on loopback, and the link-creation errors as Lambda reports them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::domain::error::ConfigError;
use crate::memory::MemoryQueue;
use crate::service::{CreateError, Service};
use crate::web::error::HttpError;
use crate::web::local::access::loopback_only;
use crate::web::routes::{action_router, read_body, Principal};

/// Largest link-creation input, in bytes.
const MAX_CREATION_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct Operator {
    service: Service,
    queue: Option<Arc<MemoryQueue>>,
}

/// The operator routes, each behind [`loopback_only`]; `queue` is what `GET /continuations` lists.
pub(super) fn operator_router(service: Service, queue: Option<Arc<MemoryQueue>>) -> Router {
    Router::new()
        .route("/interventions", post(create))
        .route("/continuations", get(continuations))
        .with_state(Operator { service: service.clone(), queue })
        // The actions (cancel, expire, resend, extend) as on AWS, by the local operator.
        .merge(action_router(service).layer(Extension(Principal(LOCAL_OPERATOR.to_owned()))))
        .route_layer(middleware::from_fn(loopback_only))
}

async fn create(State(operator): State<Operator>, request: Request) -> Response {
    let body = match read_body(request.into_body(), MAX_CREATION_BYTES).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    match operator.service.create(&body).await {
        Ok(created) => Json(created).into_response(),
        Err(CreateError::Invalid(error)) => invalid_config(&error),
        Err(CreateError::KeyReused) => {
            let body = json!({"errorType": "IdempotencyKeyReused", "errorMessage": CreateError::KeyReused.to_string(), "field": "idempotencyKey"});
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(error) => {
            tracing::error!(error = %error, "link creation failed");
            HttpError::OperatorUnavailable("Nothing was stored; try again.").into_response()
        }
    }
}

/// The link-creation error as Lambda reports it: `errorType` and `errorMessage`, plus the field.
fn invalid_config(error: &ConfigError) -> Response {
    let body = json!({"errorType": ConfigError::ERROR_TYPE, "errorMessage": error.to_string(), "field": error.field});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Who acts on the local server's operator routes.
pub const LOCAL_OPERATOR: &str = "local operator";

async fn continuations(State(operator): State<Operator>) -> Response {
    match &operator.queue {
        Some(queue) => Json(queue.messages()).into_response(),
        None => HttpError::NotInMemory.into_response(),
    }
}

//! The operator routes (create a link, cancel, list the queued continuations), answered only on
//! loopback, and the link-creation errors as Lambda reports them.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::domain::error::ConfigError;
use crate::domain::id::InterventionId;
use crate::domain::lifecycle;
use crate::memory::MemoryQueue;
use crate::service::{Cancellation, CreateError, Service};
use crate::web::error::HttpError;
use crate::web::local::access::loopback_only;
use crate::web::routes::read_body;

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
        .route("/interventions/{id}/cancel", post(cancel))
        .route("/continuations", get(continuations))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(Operator { service, queue })
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

/// The message of a cancel that comes too late.
pub const TOO_LATE: &str =
    "Too late to cancel: a response was accepted (or the link timed out) and its continuation is queued.";

/// Largest cancel body (`{"reason": …}`), in bytes.
const MAX_CANCEL_BYTES: usize = 4 * 1024;

/// Who acts on the local server's operator routes.
pub const LOCAL_OPERATOR: &str = "local operator";

/// A cancel's optional body: why.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    reason: Option<String>,
}

async fn cancel(
    State(operator): State<Operator>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let Some(id) = id.ok().and_then(|Path(id)| InterventionId::parse(&id)) else {
        return HttpError::NotFound("Not found").into_response();
    };
    let body = match read_body(request.into_body(), MAX_CANCEL_BYTES).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    // No body: a cancel without a reason. A body says why, as JSON.
    let reason = match body.is_empty() {
        true => None,
        false => match serde_json::from_slice::<CancelBody>(&body) {
            Ok(body) => body.reason,
            Err(error) => {
                return HttpError::BadRequest(format!("the body must be {{\"reason\": \"…\"}}: {error}"))
                    .into_response()
            }
        },
    };
    let actor = match lifecycle::Operator::new(LOCAL_OPERATOR, reason.as_deref()) {
        Ok(actor) => actor,
        Err(message) => return HttpError::BadRequest(message).into_response(),
    };
    match operator.service.cancel_as(&id, Some(&actor)).await {
        Ok(Cancellation::Cancelled) => {
            Json(json!({"interventionId": id.to_string(), "state": "cancelled"})).into_response()
        }
        Ok(Cancellation::TooLate { state, continuation_ids }) => {
            let body = json!({
                "error": {"code": "too_late", "message": TOO_LATE},
                "interventionId": id.to_string(),
                "state": state,
                "continuationIds": continuation_ids,
            });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Ok(Cancellation::NotFound) => HttpError::NotFound("Not found").into_response(),
        Err(_) => HttpError::OperatorUnavailable("Try again.").into_response(),
    }
}

async fn continuations(State(operator): State<Operator>) -> Response {
    match &operator.queue {
        Some(queue) => Json(queue.messages()).into_response(),
        None => HttpError::NotInMemory.into_response(),
    }
}

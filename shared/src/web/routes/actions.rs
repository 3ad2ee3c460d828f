//! The operator's actions on one intervention: `POST /interventions/{id}/cancel|expire|resend|extend`, each
//! by the [`Principal`] the request carries (the IAM caller on AWS, "local operator" on the local server).
//! Never public: IAM-authorised on AWS, loopback only on the local server.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::domain::id::InterventionId;
use crate::domain::lifecycle::Operator;
use crate::domain::message::NotifySpec;
use crate::domain::time::Timestamp;
use crate::service::{Acted, Cancellation, ResendTo, Service};
use crate::web::error::HttpError;
use crate::web::routes::respond::{read_body, unavailable};

/// Who acts on an intervention: put in the request's extensions by whatever authenticated it.
#[derive(Debug, Clone)]
pub struct Principal(pub String);

/// Largest action body, in bytes (a reason, a reviewer and a `notify`).
const MAX_ACTION_BYTES: usize = 8 * 1024;

/// The message of a cancel that comes too late.
pub const TOO_LATE: &str =
    "Too late to cancel: a response was accepted (or the link timed out) and its continuation is queued.";

/// The action routes; each needs a [`Principal`] extension on the request (403 without one).
pub fn action_router(service: Service) -> Router {
    Router::new()
        .route("/interventions/{id}/cancel", post(cancel))
        .route("/interventions/{id}/expire", post(expire))
        .route("/interventions/{id}/resend", post(resend))
        .route("/interventions/{id}/extend", post(extend))
        .with_state(service)
}

/// What every action reads first: the id (404), the principal (403) and the body's fields, only those
/// named `allowed` (400 naming the field otherwise).
struct Asked {
    id: InterventionId,
    by: String,
    fields: Map<String, Value>,
}

async fn asked(id: Result<Path<String>, PathRejection>, request: Request, allowed: &[&str]) -> Result<Asked, Response> {
    let Some(id) = id.ok().and_then(|Path(id)| InterventionId::parse(&id)) else {
        return Err(HttpError::NotFound("No such intervention.").into_response());
    };
    let Some(Principal(by)) = request.extensions().get::<Principal>().cloned() else {
        return Err(HttpError::NoPrincipal.into_response());
    };
    let body = read_body(request.into_body(), MAX_ACTION_BYTES).await.map_err(IntoResponse::into_response)?;
    let fields = match body.is_empty() {
        true => Map::new(),
        false => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(bad_field("body", "the body must be a JSON object")),
        },
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad_field(unknown, &format!("unknown field: this action takes only {}", allowed.join(", "))));
    }
    Ok(Asked { id, by, fields })
}

impl Asked {
    /// A string field, if present (400 if not a string).
    fn text(&self, name: &str) -> Result<Option<String>, BadField> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(BadField(name.to_owned(), "must be a string".to_owned())),
        }
    }

    /// The operator: the principal, and the reason given (400 naming `reason` or `by` when not valid).
    fn operator(&self) -> Result<Operator, BadField> {
        let reason = self.text("reason")?;
        Operator::new(&self.by, reason.as_deref()).map_err(|message| match message.split_once(": ") {
            Some((field, rest)) => BadField(field.to_owned(), rest.to_owned()),
            None => BadField("reason".to_owned(), message),
        })
    }
}

/// A field of the body that is not valid, and why (a 400 naming it).
struct BadField(String, String);

impl IntoResponse for BadField {
    fn into_response(self) -> Response {
        bad_field(&self.0, &self.1)
    }
}

/// 400 naming the field.
fn bad_field(field: &str, message: &str) -> Response {
    let body = json!({"error": {"code": "bad_request", "message": format!("{field}: {message}")}, "field": field});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn cancel(State(service): State<Service>, id: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let asked = match asked(id, request, &["reason"]).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let operator = match asked.operator() {
        Ok(operator) => operator,
        Err(bad) => return bad.into_response(),
    };
    let id = asked.id;
    match service.cancel_as(&id, Some(&operator)).await {
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
        Ok(Cancellation::NotFound) => HttpError::NotFound("No such intervention.").into_response(),
        Err(error) => unavailable(&error).into_response(),
    }
}

async fn expire(State(service): State<Service>, id: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let asked = match asked(id, request, &["reason"]).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    match asked.operator() {
        Ok(operator) => answer(&asked.id, service.expire_as(&asked.id, &operator).await),
        Err(bad) => bad.into_response(),
    }
}

async fn resend(State(service): State<Service>, id: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let asked = match asked(id, request, &["reason", "reviewer", "notify"]).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let (operator, reviewer) = match (asked.operator(), asked.text("reviewer")) {
        (Ok(operator), Ok(reviewer)) => (operator, reviewer),
        (Err(bad), _) | (_, Err(bad)) => return bad.into_response(),
    };
    let notify = match asked.fields.get("notify") {
        None | Some(Value::Null) => None,
        Some(value) => match serde_json::from_value::<NotifySpec>(value.clone()) {
            Ok(spec) => Some(spec),
            Err(error) => return bad_field("notify", &error.to_string()),
        },
    };
    let to = ResendTo { reviewer, notify };
    answer(&asked.id, service.resend_as(&asked.id, &operator, to).await)
}

async fn extend(State(service): State<Service>, id: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let asked = match asked(id, request, &["reason", "expiresAt"]).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let (operator, expires_at) = match (asked.operator(), asked.text("expiresAt")) {
        (Ok(operator), Ok(expires_at)) => (operator, expires_at),
        (Err(bad), _) | (_, Err(bad)) => return bad.into_response(),
    };
    let Some(expires_at) = expires_at.as_deref().and_then(Timestamp::parse_rfc3339) else {
        return bad_field("expiresAt", "is required: an RFC 3339 date-time with an offset");
    };
    answer(&asked.id, service.extend_as(&asked.id, &operator, expires_at).await)
}

/// An action's answer: 200 with what it did, 409 with the named refusal, 400, 404, or 503.
fn answer(id: &InterventionId, acted: Result<Acted, crate::ports::store::StoreError>) -> Response {
    match acted {
        Ok(Acted::Done(done)) => Json(done).into_response(),
        Ok(Acted::Refused { refusal, state }) => {
            let body = json!({
                "error": {"code": refusal.code(), "message": refusal.message()},
                "interventionId": id.to_string(),
                "state": state,
            });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Ok(Acted::Invalid(error)) => bad_field(&error.field, &error.message),
        Ok(Acted::NotFound) => HttpError::NotFound("No such intervention.").into_response(),
        Err(error) => unavailable(&error).into_response(),
    }
}

//! The reviewer's routes: `GET`/`HEAD`/`POST /i/{token}`, the stylesheet, and the answers to any other path
//! or method.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use std::sync::Arc;

use crate::domain::field::Field;
use crate::domain::input::{self, BodyError, RawInput};
use crate::domain::rejection::Rejection;
use crate::service::{Posted, Service, SubmitResult, View};
use crate::web::error::HttpError;
use crate::web::pages;
use crate::web::routes::kept_pages::KeptPages;
use crate::web::routes::live::{live_page, render_form, DEFAULT_TITLE};
use crate::web::routes::respond::{html, unavailable, wants_json};

/// Path prefix of a link.
pub const LINK_PREFIX: &str = "/i/";

/// The token exactly as it stands in the request path: never percent-decoded, so only the one
/// canonical spelling of a link can match.
fn raw_token(request_path: &str) -> &str {
    request_path.strip_prefix(LINK_PREFIX).unwrap_or("")
}

pub(super) async fn view(
    State(service): State<Service>,
    Extension(kept): Extension<Arc<KeptPages>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let json = wants_json(&headers);
    let token = raw_token(request.uri().path()).to_owned();
    let preselect = option_query(request.uri().query());
    match service.view(&token).await {
        Ok(View::Live(page)) => live_page(&page, preselect.as_deref(), json, &kept),
        Ok(View::Rejected(rejection)) => HttpError::Rejected(rejection).render(json),
        Err(error) => unavailable(&error).render(json),
    }
}

/// The `option` of a form link's query (`?option=<value>`: the button a message's reviewer pressed); the
/// first one, if any. Which values count is the form's to say; anything else in the query is ignored.
fn option_query(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes()).find(|(name, _)| name == "option").map(|(_, v)| v.into_owned())
}

pub(super) async fn submit(State(service): State<Service>, headers: HeaderMap, request: Request) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let json = wants_json(&headers) || content_type.as_deref().is_some_and(|c| c.starts_with("application/json"));
    let idempotency_key = headers.get("idempotency-key").map(|v| v.as_bytes().to_vec());
    let (parts, body) = request.into_parts();
    let token = raw_token(parts.uri.path()).to_owned();
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // Read only once the link has been judged: a forged or expired link answers whatever was posted.
    let read = async move {
        if declared.is_some_and(|n| n > input::MAX_BODY_BYTES as u64) {
            return Err(BodyError::TooLarge);
        }
        axum::body::to_bytes(body, input::MAX_BODY_BYTES).await.map_err(|_| BodyError::TooLarge)
    };
    let posted = Posted { content_type: content_type.as_deref(), idempotency_key: idempotency_key.as_deref() };
    match service.submit_posted(&token, posted, read).await {
        Ok(result) => submitted(result, json),
        Err(error) => unavailable(&error).render(json),
    }
}

fn submitted(result: SubmitResult, json: bool) -> Response {
    match result {
        SubmitResult::Accepted { intervention, submission } => {
            if json {
                Json(json!({
                    "status": "accepted",
                    "correlationId": intervention.correlation_id,
                    "submissionId": submission.submission_id,
                }))
                .into_response()
            } else {
                let title = intervention.form.as_deref().map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE);
                html(StatusCode::OK, pages::success_page(&intervention.correlation_id, title))
            }
        }
        SubmitResult::Rejected(rejection) => HttpError::Rejected(rejection).render(json),
        SubmitResult::BadBody(error) => HttpError::BadBody(error).render(json),
        SubmitResult::Invalid { intervention, raw, errors, submission_id, reviewer, option } => {
            if json {
                let fields: serde_json::Map<String, serde_json::Value> =
                    errors.0.iter().map(|(k, m)| (k.clone(), json!(m))).collect();
                let body = json!({"error": {"code": "invalid_input", "message": "Some fields are not valid.", "fields": fields}});
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            } else {
                let values = |field: &Field| raw.values(field.key.as_str()).to_vec();
                let page =
                    render_form(&intervention, reviewer, &submission_id, option.as_deref(), values, Some(&errors));
                html(StatusCode::UNPROCESSABLE_ENTITY, page)
            }
        }
        SubmitResult::Conflict => HttpError::Conflict.render(json),
        SubmitResult::ContinuationTooLarge { bytes } => HttpError::ContinuationTooLarge { bytes }.render(json),
    }
}

pub(super) async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], pages::STYLESHEET).into_response()
}

pub(super) async fn not_found(headers: HeaderMap) -> Response {
    HttpError::Rejected(Rejection::NotFound).render(wants_json(&headers))
}

pub(super) async fn method_not_allowed(headers: HeaderMap) -> Response {
    HttpError::MethodNotAllowed.render(wants_json(&headers))
}

#[allow(dead_code)]
fn _assert_raw_input_is_send(raw: RawInput) -> impl Send {
    raw
}

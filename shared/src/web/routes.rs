//! The public routes as one axum router: the same code under `lambda_http` and in the local server.
//! Every response, errors included, carries the fixed security headers.

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::Markup;
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::domain::context::Context;
use crate::domain::field::{initial_values, Field, FieldKind};
use crate::domain::form::FieldSpec;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::input::{self, BodyError, FieldErrors, RawInput};
use crate::domain::model::{Intervention, InterventionState};
use crate::domain::rejection::Rejection;
use crate::ports::store::StoreError;
use crate::service::{LivePage, Posted, Service, SubmitResult, View};
use crate::web::error::HttpError;
use crate::web::pages::{self, FieldView, FormPage};

/// The strict Content-Security-Policy of every response: no script at all, one same-origin stylesheet.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Path prefix of a link.
pub const LINK_PREFIX: &str = "/i/";

/// The public routes: `GET`/`HEAD`/`POST /i/{token}` and the stylesheet.
pub fn public_router(service: Service) -> Router {
    let routes = Router::new()
        .route("/i/{token}", get(view).post(submit).fallback(method_not_allowed))
        .route(pages::STYLESHEET_PATH, get(stylesheet))
        .fallback(not_found)
        .with_state(service);
    with_security_headers(routes)
}

/// `Strict-Transport-Security` of every response a Lambda function sends: the public page is HTTPS-only
/// on AWS (the local server, on plain HTTP, does without).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Adds [`STRICT_TRANSPORT_SECURITY`] to every response of `router`, errors included.
pub fn with_hsts<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
    ))
}

/// The public routes for a Lambda function: metrics are flushed (as one EMF document) after each request;
/// every response carries HSTS.
pub fn lambda_router(service: Service) -> Router {
    with_hsts(public_router(service).layer(axum::middleware::map_response(|response: Response| async move {
        crate::telemetry::flush_metrics();
        response
    })))
}

/// The record routes for the `records` Lambda function, with HSTS on every response.
pub fn lambda_record_router(service: Service) -> Router {
    with_hsts(record_router(service))
}

/// The operator's record routes: `GET /interventions/{id}` and `GET /interventions?environmentId=…`.
/// Never public: loopback only on the local server, IAM-authorised on AWS.
pub fn record_router(service: Service) -> Router {
    with_security_headers(
        Router::new().route("/interventions/{id}", get(record)).route("/interventions", get(list)).with_state(service),
    )
}

async fn record(State(service): State<Service>, id: Result<Path<String>, PathRejection>) -> Response {
    let not_found = || HttpError::NotFound("No such intervention.").into_response();
    // An id that is not even UTF-8 is no intervention's: the same JSON 404 as any other unknown id.
    let Some(id) = id.ok().and_then(|Path(id)| InterventionId::parse(&id)) else { return not_found() };
    match service.record(&id).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => not_found(),
        Err(error) => unavailable(&error).into_response(),
    }
}

/// Most interventions on one page of a listing.
pub const MAX_PAGE: usize = 100;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    environment_id: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
    next_token: Option<String>,
}

async fn list(State(service): State<Service>, request: Request) -> Response {
    let bad = |message: String| HttpError::BadRequest(message).into_response();
    let query = request.uri().query().unwrap_or("");
    let params: ListParams = match serde_urlencoded::from_str(query) {
        Ok(params) => params,
        Err(error) => return bad(format!("the query is not valid: {error}")),
    };
    let Some(environment_id) = params.environment_id.filter(|e| !e.is_empty()) else {
        return bad("environmentId is required".into());
    };
    let state = match params.state.as_deref().map(|s| (s, InterventionState::parse(s))) {
        None => None,
        Some((_, Some(state))) => Some(state),
        Some((other, None)) => {
            return bad(format!("state {other:?} is not one of pending, completed, expired, cancelled, timedOut"))
        }
    };
    let limit = params.limit.unwrap_or(25);
    if !(1..=MAX_PAGE).contains(&limit) {
        return bad(format!("limit must be from 1 to {MAX_PAGE}"));
    }
    match service.list(&environment_id, state, limit, params.next_token).await {
        Ok(page) => Json(page).into_response(),
        Err(StoreError::BadPageToken) => bad("nextToken is not a token this service handed out".into()),
        Err(error) => unavailable(&error).into_response(),
    }
}

/// Adds the fixed security headers to every response of `router`.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let fixed: [(&str, &str); 8] = [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-robots-tag", "noindex, nofollow"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ];
    fixed.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(HeaderName::from_static(name), HeaderValue::from_static(value)))
    })
}

/// The token exactly as it stands in the request path: never percent-decoded, so only the one
/// canonical spelling of a link can match.
fn raw_token(request_path: &str) -> &str {
    request_path.strip_prefix(LINK_PREFIX).unwrap_or("")
}

/// Whether the client asked for JSON rather than a page.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

async fn view(State(service): State<Service>, headers: HeaderMap, request: Request) -> Response {
    let json = wants_json(&headers);
    let token = raw_token(request.uri().path()).to_owned();
    match service.view(&token).await {
        Ok(View::Live(page)) => live_page(&page, json),
        Ok(View::Rejected(rejection)) => HttpError::Rejected(rejection).render(json),
        Err(error) => unavailable(&error).render(json),
    }
}

async fn submit(State(service): State<Service>, headers: HeaderMap, request: Request) -> Response {
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
                let title = intervention.form.as_ref().map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE);
                html(StatusCode::OK, pages::success_page(&intervention.correlation_id, title))
            }
        }
        SubmitResult::Rejected(rejection) => HttpError::Rejected(rejection).render(json),
        SubmitResult::BadBody(error) => HttpError::BadBody(error).render(json),
        SubmitResult::Invalid { intervention, raw, errors, submission_id, reviewer } => {
            if json {
                let fields: serde_json::Map<String, serde_json::Value> =
                    errors.0.iter().map(|(k, m)| (k.clone(), json!(m))).collect();
                let body = json!({"error": {"code": "invalid_input", "message": "Some fields are not valid.", "fields": fields}});
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            } else {
                let values = |field: &Field| raw.values(field.key.as_str()).to_vec();
                let page = render_form(&intervention, reviewer, &submission_id, values, Some(&errors));
                html(StatusCode::UNPROCESSABLE_ENTITY, page)
            }
        }
        SubmitResult::Conflict => HttpError::Conflict.render(json),
        SubmitResult::ContinuationTooLarge { bytes } => HttpError::ContinuationTooLarge { bytes }.render(json),
    }
}

/// The heading of a page whose intervention has no form.
const DEFAULT_TITLE: &str = "Approval requested";

/// The form of `intervention` with these values (and errors), as the reviewer's page.
fn render_form(
    intervention: &Intervention,
    reviewer: Option<usize>,
    submission_id: &SubmissionId,
    values: impl Fn(&Field) -> Vec<String>,
    errors: Option<&FieldErrors>,
) -> Markup {
    let form = intervention.form.as_ref();
    let shown = form
        .map(|f| f.show.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|key| !intervention.secret_keys.contains(key))
        .filter_map(|key| intervention.context.get(key).map(|v| (key.as_str(), v.display_parts())))
        .collect();
    let fields = form
        .map(|f| f.fields.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|field| FieldView {
            field,
            values: values(field),
            error: errors.and_then(|e| e.get(field.key.as_str())).map(str::to_owned),
        })
        .collect();
    pages::form_page(&FormPage {
        title: form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE),
        prompt: form.and_then(|f| f.prompt.as_deref()),
        shown,
        fields,
        submission_id: submission_id.as_str(),
        expires_at: intervention.expires_at,
        has_errors: errors.is_some_and(|e| !e.0.is_empty()),
        reviewer: reviewer.and_then(|i| intervention.reviewers.get(i)).map(|r| r.name.as_str()),
        quorum: intervention.quorum.as_ref().map(|q| (intervention.tally.approvals, q.approvals)),
    })
}

fn live_page(page: &LivePage, json: bool) -> Response {
    let intervention = &page.intervention;
    let initial = |field: &Field| initial_values(field, &intervention.context);
    if !json {
        return html(StatusCode::OK, render_form(intervention, page.reviewer, &page.submission_id, initial, None));
    }
    let form = intervention.form.as_ref();
    let fields: Vec<serde_json::Value> = form
        .map(|f| f.fields.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|field| {
            let mut spec = serde_json::to_value(FieldSpec::from(field)).unwrap_or_default();
            if let Some(object) = spec.as_object_mut() {
                // The prefill key says nothing to a client; the value it resolves to does.
                object.remove("prefill");
                object.remove("default");
                let values = initial(field);
                if !values.is_empty() {
                    let value = if matches!(field.kind, FieldKind::Choice { multiple: true, .. }) {
                        json!(values)
                    } else {
                        json!(values[0])
                    };
                    object.insert("value".into(), value);
                }
            }
            spec
        })
        .collect();
    let mut details = Context::default();
    for key in form.map(|f| f.show.as_slice()).unwrap_or(&[]) {
        if let (false, Some(value)) = (intervention.secret_keys.contains(key), intervention.context.get(key)) {
            details.insert(key.clone(), value.clone());
        }
    }
    let mut body = json!({
        "state": "pending",
        "title": form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE),
        "prompt": form.and_then(|f| f.prompt.as_deref()),
        "details": details,
        "fields": fields,
        "submissionId": page.submission_id,
        "expiresAt": intervention.expires_at.to_rfc3339(),
        "usesLeft": match page.reviewer {
            Some(_) => 1,
            None => intervention.max_uses.saturating_sub(intervention.uses),
        },
    });
    if let (Some(reviewer), Some(object)) =
        (page.reviewer.and_then(|i| intervention.reviewers.get(i)), body.as_object_mut())
    {
        object.insert("reviewerName".into(), json!(reviewer.name));
    }
    if let (Some(quorum), Some(object)) = (&intervention.quorum, body.as_object_mut()) {
        object.insert(
            "quorum".into(),
            json!({"approvalsSoFar": intervention.tally.approvals, "approvalsRequired": quorum.approvals}),
        );
    }
    Json(body).into_response()
}

/// The store failed: the detail goes to the log; the reviewer is told nothing was recorded, and whether
/// trying again can help.
fn unavailable(error: &StoreError) -> HttpError {
    match error {
        StoreError::Refused(_) => {
            tracing::error!(error = %error, "the store refused the write");
            HttpError::Unrecordable
        }
        StoreError::Unconfirmed(_) => {
            tracing::error!(error = %error, "the store did not confirm the write");
            HttpError::Unconfirmed
        }
        _ => {
            tracing::error!(error = %error, "store unavailable");
            HttpError::Unavailable
        }
    }
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], pages::STYLESHEET).into_response()
}

async fn not_found(headers: HeaderMap) -> Response {
    HttpError::Rejected(Rejection::NotFound).render(wants_json(&headers))
}

async fn method_not_allowed(headers: HeaderMap) -> Response {
    HttpError::MethodNotAllowed.render(wants_json(&headers))
}

/// Reads a body of at most `limit` bytes (for the local server's JSON routes).
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, HttpError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| HttpError::PayloadTooLarge)
}

#[allow(dead_code)]
fn _assert_raw_input_is_send(raw: RawInput) -> impl Send {
    raw
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Request};
    use tower::ServiceExt;

    use super::*;
    use crate::domain::time::SystemClock;
    use crate::domain::token::{LinkKey, LinkKeys};
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn every_response_of_the_lambda_routers_carries_hsts_errors_included() {
        let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![1; 32]).unwrap(), vec![]).unwrap());
        let service = Service::new(Arc::new(MemoryStore::new()), keys, Arc::new(SystemClock), "https://l.example");
        let requests = [
            ("GET", "/i/nope", None),
            ("POST", "/i/nope", Some("application/x-www-form-urlencoded")),
            ("PUT", "/i/nope", None),
            ("GET", "/assets/intervention.css", None),
            ("GET", "/elsewhere", None),
        ];
        for (method, path, content_type) in requests {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let response = lambda_router(service.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(
                response.headers()[header::STRICT_TRANSPORT_SECURITY],
                STRICT_TRANSPORT_SECURITY,
                "{method} {path}"
            );
        }
        for path in ["/interventions/AAAAAAAAAAAAAAAAAAAAAA", "/interventions?state=x"] {
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            let response = lambda_record_router(service.clone()).oneshot(request).await.unwrap();
            assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], STRICT_TRANSPORT_SECURITY, "{path}");
        }
    }
}

//! The operator's record routes: one intervention's record, and a page of an environment's interventions.
//! Never public: loopback only on the local server, IAM-authorised on AWS.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::id::InterventionId;
use crate::domain::model::InterventionState;
use crate::ports::store::StoreError;
use crate::service::Service;
use crate::web::error::HttpError;
use crate::web::routes::headers::with_security_headers;
use crate::web::routes::respond::unavailable;

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

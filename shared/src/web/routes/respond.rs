//! How a route answers: a page with its status, JSON or a page as the client asked, a store failure as the
//! reviewer's error, and a bounded body read.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::Markup;

use crate::ports::store::StoreError;
use crate::web::error::HttpError;

/// Whether the client asked for JSON rather than a page.
pub(super) fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// The store failed: the detail goes to the log; the reviewer is told nothing was recorded, and whether
/// trying again can help.
pub(super) fn unavailable(error: &StoreError) -> HttpError {
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

pub(super) fn html(status: StatusCode, markup: Markup) -> Response {
    html_text(status, markup.into_string())
}

/// A page already rendered.
pub(super) fn html_text(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

/// Reads a body of at most `limit` bytes (for the local server's JSON routes).
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, HttpError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| HttpError::PayloadTooLarge)
}

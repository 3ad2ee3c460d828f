//! `GET /.well-known/receipt-keys.json`: the public keys every continuation's receipt is verified with
//! (a JWK Set, the signing key first), public like the stylesheet.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::domain::rejection::Rejection;
use crate::service::Service;
use crate::web::error::HttpError;

/// Where the receipt keys are published.
pub const RECEIPT_KEYS_PATH: &str = "/.well-known/receipt-keys.json";

/// A JSON document's route: its refusals are JSON too, as the contract documents them.
pub(super) async fn receipt_keys(State(service): State<Service>) -> Response {
    let json = true;
    match service.receipt_keys().await {
        // Keys change only by a deployment (rotation): a consumer may keep them for five minutes.
        Some(Ok(keys)) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(keys)).into_response(),
        Some(Err(error)) => {
            tracing::warn!(error = %error, "reading the receipt keys failed");
            HttpError::Unavailable.render(json)
        }
        // A deployment that signs no receipts has no such route.
        None => HttpError::Rejected(Rejection::NotFound).render(json),
    }
}

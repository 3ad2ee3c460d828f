//! `GET /.well-known/receipt-keys.json`: the public keys every continuation's receipt is verified with
//! (a JWK Set, the signing key first), public like the stylesheet.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::service::Service;

/// Where the receipt keys are published.
pub const RECEIPT_KEYS_PATH: &str = "/.well-known/receipt-keys.json";

pub(super) async fn receipt_keys(State(service): State<Service>) -> Response {
    match service.receipt_keys().await {
        // Keys change only by a deployment (rotation): a consumer may keep them for five minutes.
        Some(Ok(keys)) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(keys)).into_response(),
        Some(Err(error)) => {
            tracing::warn!(error = %error, "reading the receipt keys failed");
            let body = json!({"error": "The receipt keys could not be read; try again shortly."});
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Json(body)).into_response()
        }
        None => {
            let body = json!({"error": "This deployment signs no receipts."});
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}

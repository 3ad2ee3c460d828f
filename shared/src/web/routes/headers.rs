//! The fixed security headers every response carries, errors included, and HSTS for what runs on AWS.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// The strict Content-Security-Policy of every response: no script at all, one same-origin stylesheet.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

/// The fixed security headers, in the order they are set.
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 8] = [
    (HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
    (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
    (HeaderName::from_static("cache-control"), HeaderValue::from_static("no-store")),
    (HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex, nofollow")),
    (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
    (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    (
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    ),
];

/// Adds the fixed security headers to every response of `router` (replacing any a route set). One layer
/// for all of them: axum boxes and clones each layer of every route on every request.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(axum::middleware::map_response(set_security_headers))
}

async fn set_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // Room for all of them at once: growing the map header by header rehashes it several times.
    headers.reserve(SECURITY_HEADERS.len());
    for (name, value) in &SECURITY_HEADERS {
        headers.insert(name.clone(), value.clone());
    }
    response
}

//! The throughput floor of `make bench`: the product's HTTP stack (axum on hyper, one tokio runtime)
//! answering every request, GET or POST, with the same page bytes and the same fixed headers, and no
//! domain work at all.
//!
//!     static-page PORT PAGE_FILE

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::Router;

const HEADERS: [(&str, &str); 9] = [
    ("content-type", "text/html; charset=utf-8"),
    ("content-security-policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-robots-tag", "noindex, nofollow"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or("usage: static-page PORT PAGE_FILE")?.parse()?;
    let page = Bytes::from(std::fs::read(args.next().ok_or("usage: static-page PORT PAGE_FILE")?)?);
    let mut headers = HeaderMap::new();
    for (name, value) in HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    let app = Router::new().fallback(move |body: Bytes| {
        let (page, headers) = (page.clone(), headers.clone());
        async move {
            drop(body); // a POST's body is read, as the product reads it
            (headers, page).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

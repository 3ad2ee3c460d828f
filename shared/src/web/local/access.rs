//! Who may reach the local server's routes and how their bodies are read: the operator routes answer
//! loopback only (no DNS rebinding, no other origin), and every upload is read whole before the answer.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::error::HttpError;

/// The most of a request body any route reads (the link-creation input's 256 KiB, with room to spare); a
/// route still refuses what is over its own limit.
const KEPT_BODY_BYTES: usize = 1024 * 1024;
/// How much of an upload is read before answering (API Gateway's own limit): a browser, which writes its
/// whole body before it reads the answer, then gets the 413 page rather than a reset connection.
const DRAINED_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Reads the request body to its end (up to [`DRAINED_BODY_BYTES`]) before the route answers, keeping at
/// most [`KEPT_BODY_BYTES`] + 1 bytes of it for the route: memory stays bounded, and whatever the route
/// answers (a 413, a 404 for a forged link) reaches a client that is still sending.
pub(super) async fn read_whole_upload(request: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    let (parts, mut body) = request.into_parts();
    let mut kept: Vec<u8> = Vec::new();
    let mut read = 0usize;
    while read <= DRAINED_BODY_BYTES {
        let Some(Ok(frame)) = body.frame().await else { break };
        if let Ok(data) = frame.into_data() {
            read += data.len();
            let room = (KEPT_BODY_BYTES + 1).saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(kept))).await
}

/// The operator routes answer only a request from loopback, addressed to a loopback name (no DNS
/// rebinding: a page on `evil.example` resolved to 127.0.0.1 still sends `Host: evil.example`), from the
/// server's own origin or none (no other web page), and, for a body, one declared `application/json`
/// (which no page of another origin can send without a preflight that this server never grants).
pub(super) async fn loopback_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match operator_refusal(peer, &request) {
        None => next.run(request).await,
        Some(error) => {
            tracing::warn!(code = error.code(), "operator request refused");
            error.into_response()
        }
    }
}

fn operator_refusal(peer: SocketAddr, request: &Request) -> Option<HttpError> {
    if !peer.ip().is_loopback() {
        return Some(HttpError::NotLoopback);
    }
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_loopback_host(host) {
        return Some(HttpError::NotLoopbackHost);
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = origin.to_str().ok().is_some_and(|o| o.eq_ignore_ascii_case(&format!("http://{host}")));
        if !own {
            return Some(HttpError::CrossOrigin);
        }
    }
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return Some(HttpError::CrossOrigin);
    }
    if request.method() == Method::POST && request.uri().path() == "/interventions" {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Some(HttpError::OperatorMediaType);
        }
    }
    None
}

/// `localhost` (or a name under it), an IPv4 loopback address or `[::1]`, with an optional port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((address, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => {
                return address == "::1"
            }
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_and_addresses_are_operator_hosts() {
        for host in [
            "127.0.0.1:3000",
            "127.0.0.1",
            "127.1.2.3:80",
            "localhost:3000",
            "LOCALHOST",
            "a.localhost:1",
            "[::1]:3000",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "10.0.0.1:3000",
            "[::2]:3000",
            "[::1]x",
            "127.0.0.1:",
            "127.0.0.1:abc",
            "localhost:3000:1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}

//! The routes as axum routers: the same code under `lambda_http` and in the local server. Every response,
//! errors included, carries the fixed security headers.
//!
//! A room per concern: `reviewer` (the link's routes), `live` (the live link's page, HTML or JSON),
//! `records` (the operator's record routes), `headers` (the security headers and HSTS) and `respond`
//! (how a route answers).

mod actions;
mod headers;
mod kept_pages;
mod keys;
mod live;
mod records;
mod respond;
mod reviewer;

use std::sync::Arc;

use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use crate::service::Service;
use crate::web::pages;

pub use actions::{action_router, Principal, TOO_LATE};
pub use headers::{with_hsts, with_security_headers, CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY};
pub use kept_pages::{KeptPages, MAX_KEPT_BYTES};
pub use keys::RECEIPT_KEYS_PATH;
pub use records::{record_router, MAX_PAGE};
pub use respond::read_body;
pub use reviewer::LINK_PREFIX;

use reviewer::{method_not_allowed, not_found, stylesheet, submit, view};

/// The public routes: `GET`/`HEAD`/`POST /i/{token}`, the stylesheet and the receipt keys; the router keeps
/// its rendered pages ([`KeptPages`]).
pub fn public_router(service: Service) -> Router {
    let routes = Router::new()
        .route("/i/{token}", get(view).post(submit).fallback(method_not_allowed))
        .route(pages::STYLESHEET_PATH, get(stylesheet))
        .route(RECEIPT_KEYS_PATH, get(keys::receipt_keys))
        .fallback(not_found)
        .with_state(service)
        .layer(Extension(Arc::new(KeptPages::default())));
    with_security_headers(routes)
}

/// The public routes for a Lambda function: metrics are flushed (as one EMF document) after each request;
/// every response carries HSTS.
pub fn lambda_router(service: Service) -> Router {
    with_hsts(public_router(service).layer(axum::middleware::map_response(|response: Response| async move {
        crate::telemetry::flush_metrics();
        response
    })))
}

/// The record routes for the `records` Lambda function, with the operator's actions (each by the
/// [`Principal`] the function puts in the request from API Gateway's IAM caller), HSTS on every response.
pub fn lambda_record_router(service: Service) -> Router {
    with_hsts(record_router(service.clone()).merge(with_security_headers(action_router(service))))
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

    #[tokio::test]
    async fn an_action_without_a_principal_is_refused_403_by_name_and_with_one_reaches_the_service() {
        let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![1; 32]).unwrap(), vec![]).unwrap());
        let service = Service::new(Arc::new(MemoryStore::new()), keys, Arc::new(SystemClock), "https://l.example");
        for action in ["cancel", "expire", "resend", "extend"] {
            let uri = format!("/interventions/AAAAAAAAAAAAAAAAAAAAAA/{action}");
            let request = Request::builder().method("POST").uri(&uri).body(Body::empty()).unwrap();
            let response = lambda_record_router(service.clone()).oneshot(request).await.unwrap();
            assert_eq!(response.status(), 403, "{action}");
            assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], STRICT_TRANSPORT_SECURITY);
            let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], "no_principal", "{action}");
            let mut request = Request::builder().method("POST").uri(&uri).body(Body::empty()).unwrap();
            request.extensions_mut().insert(Principal("arn:aws:iam::123456789012:user/ops".into()));
            let response = lambda_record_router(service.clone()).oneshot(request).await.unwrap();
            let expected = if action == "extend" { 400 } else { 404 };
            assert_eq!(response.status(), expected, "{action}: unknown id (extend: no expiresAt)");
        }
    }
}

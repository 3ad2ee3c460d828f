//! The local server (the embedded default): the public routes and the operator routes in one process,
//! on the in-memory store and queue (or on DynamoDB and SQS), with the publisher running in-process.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::domain::error::ConfigError;
use crate::domain::id::InterventionId;
use crate::domain::model::{ReminderRefusal, TimeoutRefusal};
use crate::domain::time::{Clock, SystemClock, Timestamp};
use crate::domain::token::{LinkKey, LinkKeys};
use crate::memory::{MemoryQueue, MemoryScheduler, MemoryStore};
use crate::ports::queue::ContinuationQueue;
use crate::ports::schedule::TimeoutScheduler;
use crate::ports::store::{InterventionStore, ReminderOutcome, TimeoutOutcome};
use crate::service::{publish_outbox, Cancellation, CreateError, Outlets, Service};
use crate::web::error::HttpError;
use crate::web::routes::{public_router, read_body, record_router, with_security_headers};

/// Largest link-creation input, in bytes.
const MAX_CREATION_BYTES: usize = 256 * 1024;

/// How the local server is set up.
#[derive(Clone)]
pub struct LocalConfig {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// Where links point; default `http://<addr>`.
    pub base_url: Option<String>,
    /// Signing keys; default a fresh random key.
    pub keys: Option<LinkKeys>,
    /// The clock; default the system clock.
    pub clock: Arc<dyn Clock>,
    /// Where interventions and continuations live; default in memory.
    pub backend: Backend,
}

/// The store and queue the local server runs on.
#[derive(Clone, Default)]
pub enum Backend {
    /// In memory: nothing to set up, gone when the process ends.
    #[default]
    Memory,
    /// Any adapters, e.g. DynamoDB and SQS against a local endpoint.
    Adapters {
        /// The store.
        store: Arc<dyn InterventionStore>,
        /// The queue.
        queue: Arc<dyn ContinuationQueue>,
    },
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            base_url: None,
            keys: None,
            clock: Arc::new(SystemClock),
            backend: Backend::Memory,
        }
    }
}

/// A running local server.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The base URL of its links.
    pub base_url: String,
    /// The service it runs.
    pub service: Service,
    /// Its store.
    pub store: Arc<dyn InterventionStore>,
    /// Its queue, when it is the in-memory one (what `GET /continuations` lists).
    pub memory_queue: Option<Arc<MemoryQueue>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    publisher: tokio::task::JoinHandle<()>,
    timer: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    /// Binds and starts serving; returns once the port is open.
    pub async fn start(config: LocalConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = config.base_url.unwrap_or_else(|| format!("http://{addr}"));
        let keys = match config.keys {
            Some(keys) => keys,
            None => {
                LinkKey::random("local").and_then(|key| LinkKeys::new(key, vec![])).map_err(std::io::Error::other)?
            }
        };
        let (store, queue, memory_store, memory_queue): (Arc<dyn InterventionStore>, Arc<dyn ContinuationQueue>, _, _) =
            match config.backend {
                Backend::Memory => {
                    let store = Arc::new(MemoryStore::new());
                    let queue = Arc::new(MemoryQueue::new());
                    (store.clone(), queue.clone(), Some(store), Some(queue))
                }
                Backend::Adapters { store, queue } => (store, queue, None, None),
            };
        let scheduler = Arc::new(MemoryScheduler::new());
        let service = Service::new(store.clone(), Arc::new(keys), config.clock.clone(), &base_url)
            .with_scheduler(scheduler.clone());
        let app = router(service.clone(), memory_queue.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
        });
        let publisher = tokio::spawn(run_publisher(store.clone(), queue, memory_store, config.clock.clone()));
        let timer = tokio::spawn(run_timer(service.clone(), scheduler));
        Ok(Self { addr, base_url, service, store, memory_queue, server, publisher, timer })
    }

    /// Creates the demo intervention and returns its link.
    pub async fn create_demo(&self) -> Result<String, CreateError> {
        let created = self.service.create(demo_input(self.service.now()).to_string().as_bytes()).await?;
        let context = serde_json::to_value(&created.context).unwrap_or_default();
        Ok(context[DEMO_LINK_KEY].as_str().unwrap_or_default().to_owned())
    }

    /// Serves until the server task ends (an I/O error) or the process is stopped.
    pub async fn wait(mut self) -> std::io::Result<()> {
        let result = (&mut self.server).await.map_err(std::io::Error::other)?;
        self.publisher.abort();
        self.timer.abort();
        result
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.abort();
        self.publisher.abort();
        self.timer.abort();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Moves accepted submissions onto the queue: at once when the in-memory store signals one, and on every
/// pass (the outbox sweep) otherwise.
async fn run_publisher(
    store: Arc<dyn InterventionStore>,
    queue: Arc<dyn ContinuationQueue>,
    signal: Option<Arc<MemoryStore>>,
    clock: Arc<dyn Clock>,
) {
    loop {
        // The embedded stand-in for the stream: everything recorded so far, at once.
        let now = clock.now();
        if let Err(error) =
            publish_outbox(store.as_ref(), Outlets { queue: queue.as_ref(), tasks: None }, now, now).await
        {
            tracing::warn!(error = %error, "publishing continuations failed; retrying");
        }
        match &signal {
            Some(memory) => tokio::select! {
                () = memory.outbox_changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            },
            None => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Fires due timeouts every 100 ms (so within a second of expiry); a timer that fired early (the clock
/// moved back) is set again.
async fn run_timer(service: Service, scheduler: Arc<MemoryScheduler>) {
    loop {
        for id in scheduler.take_due(service.now()) {
            match service.fire_timeout(&id).await {
                Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotDue)) | Err(_) => {
                    let retry_at = service.now().plus_millis(1_000);
                    let _ = scheduler.schedule(&id, retry_at).await;
                }
                Ok(_) => {}
            }
        }
        for id in scheduler.take_due_reminders(service.now()) {
            match service.fire_reminder(&id).await {
                Ok(ReminderOutcome::Refused(ReminderRefusal::NotDue)) | Err(_) => {
                    let retry_at = service.now().plus_millis(1_000);
                    let _ = scheduler.schedule_reminder(&id, retry_at).await;
                }
                Ok(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Clone)]
struct Operator {
    service: Service,
    queue: Option<Arc<MemoryQueue>>,
}

fn router(service: Service, queue: Option<Arc<MemoryQueue>>) -> Router {
    let operator = Router::new()
        .route("/interventions", post(create))
        .route("/interventions/{id}/cancel", post(cancel))
        .route("/continuations", get(continuations))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(Operator { service: service.clone(), queue });
    let records = record_router(service.clone()).route_layer(middleware::from_fn(loopback_only));
    public_router(service)
        .merge(with_security_headers(operator))
        .merge(records)
        .layer(middleware::from_fn(read_whole_upload))
}

/// The most of a request body any route reads (the link-creation input's 256 KiB, with room to spare); a
/// route still refuses what is over its own limit.
const KEPT_BODY_BYTES: usize = 1024 * 1024;
/// How much of an upload is read before answering (API Gateway's own limit): a browser, which writes its
/// whole body before it reads the answer, then gets the 413 page rather than a reset connection.
const DRAINED_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Reads the request body to its end (up to [`DRAINED_BODY_BYTES`]) before the route answers, keeping at
/// most [`KEPT_BODY_BYTES`] + 1 bytes of it for the route: memory stays bounded, and whatever the route
/// answers (a 413, a 404 for a forged link) reaches a client that is still sending.
async fn read_whole_upload(request: Request, next: Next) -> Response {
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
async fn loopback_only(ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request, next: Next) -> Response {
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

async fn create(State(operator): State<Operator>, request: Request) -> Response {
    let body = match read_body(request.into_body(), MAX_CREATION_BYTES).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    match operator.service.create(&body).await {
        Ok(created) => Json(created).into_response(),
        Err(CreateError::Invalid(error)) => invalid_config(&error),
        Err(CreateError::KeyReused) => {
            let body = json!({"errorType": "IdempotencyKeyReused", "errorMessage": CreateError::KeyReused.to_string(), "field": "idempotencyKey"});
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(error) => {
            tracing::error!(error = %error, "link creation failed");
            HttpError::OperatorUnavailable("Nothing was stored; try again.").into_response()
        }
    }
}

/// The link-creation error as Lambda reports it: `errorType` and `errorMessage`, plus the field.
fn invalid_config(error: &ConfigError) -> Response {
    let body = json!({"errorType": ConfigError::ERROR_TYPE, "errorMessage": error.to_string(), "field": error.field});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// The message of a cancel that comes too late.
pub const TOO_LATE: &str =
    "Too late to cancel: a response was accepted (or the link timed out) and its continuation is queued.";

async fn cancel(State(operator): State<Operator>, id: Result<Path<String>, PathRejection>) -> Response {
    let Some(id) = id.ok().and_then(|Path(id)| InterventionId::parse(&id)) else {
        return HttpError::NotFound("Not found").into_response();
    };
    match operator.service.cancel(&id).await {
        Ok(Cancellation::Cancelled) => {
            Json(json!({"interventionId": id.to_string(), "state": "cancelled"})).into_response()
        }
        Ok(Cancellation::TooLate { state, continuation_ids }) => {
            let body = json!({
                "error": {"code": "too_late", "message": TOO_LATE},
                "interventionId": id.to_string(),
                "state": state,
                "continuationIds": continuation_ids,
            });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Ok(Cancellation::NotFound) => HttpError::NotFound("Not found").into_response(),
        Err(_) => HttpError::OperatorUnavailable("Try again.").into_response(),
    }
}

async fn continuations(State(operator): State<Operator>) -> Response {
    match &operator.queue {
        Some(queue) => Json(queue.messages()).into_response(),
        None => HttpError::NotInMemory.into_response(),
    }
}

/// The context key the demo's link is written to.
pub const DEMO_LINK_KEY: &str = "approval.url";

/// The demo intervention: a refund approval with one field of every type.
pub fn demo_input(now: Timestamp) -> serde_json::Value {
    json!({
        "environmentId": "local",
        "tier": "Dedicated",
        "correlationId": "demo-0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10",
        "runAvailableUntil": now.plus_millis(7 * 24 * 3_600_000).to_rfc3339(),
        "ruleSetId": "refund-continue",
        "urlExpirationHours": 24,
        "maxUrlUses": 1,
        "generatedUrlContextKey": DEMO_LINK_KEY,
        "formDocument": {
            "title": "Approve refund",
            "prompt": "Refund **120.50 EUR** to the customer for order *A-1001*?\n\nCheck the amount before you approve.",
            "show": ["order.id", "order.amount", "customer.name"],
            "fields": [
                { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
                { "key": "refund.amount", "label": "Amount (EUR)", "type": "decimal", "min": 0, "max": 1000, "prefill": "order.amount" },
                { "key": "refund.items", "label": "Items refunded", "type": "integer", "min": 1, "max": 20, "default": 1 },
                { "key": "refund.reasons", "label": "Reasons", "type": "choice", "multiple": true, "options": ["damaged", "late", "wrong item"] },
                { "key": "refund.date", "label": "Refund date", "type": "date" },
                { "key": "followUp.at", "label": "Follow up at", "type": "datetime" },
                { "key": "reviewer.email", "label": "Your email", "type": "email", "help": "We send a copy of the decision here." },
                { "key": "evidence.url", "label": "Evidence link", "type": "url" },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500, "help": "Shown to the customer." },
                { "key": "confirmed", "label": "I checked the order history", "type": "boolean", "required": true }
            ]
        },
        "context": { "order.id": "A-1001", "order.amount": 120.5, "customer.name": "Ada Lovelace", "customer.email": "ada@example.com" },
        "secretKeys": ["customer.email"]
    })
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

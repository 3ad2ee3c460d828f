//! Strict fakes of the chat providers that have no emulator worth using (Slack's Web API, Teams' Workflows
//! webhooks): real HTTP servers on loopback that refuse what the real services refuse, answer as they
//! answer, count every call, keep what was posted, and inject scripted faults on the next calls — a 429
//! with `Retry-After`, a 500, or a lost reply (the call is processed, then the connection is dropped
//! without an answer).

pub mod slack;
pub mod teams;

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A fault the next call meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Rate limited: HTTP 429 with `Retry-After: <seconds>`; nothing is processed.
    RateLimited {
        /// The `Retry-After` header, in seconds.
        retry_after: u64,
    },
    /// HTTP 500; nothing is processed.
    ServerError,
    /// Processed as usual, then the connection is closed without an answer.
    LostReply,
}

/// The faults scripted for the next calls, and the count of every call by name.
#[derive(Default)]
pub struct Wire {
    faults: Mutex<VecDeque<Fault>>,
    calls: Mutex<BTreeMap<String, usize>>,
}

impl Wire {
    /// The next `n` calls meet `fault` (after any already scripted).
    pub fn script(&self, fault: Fault, n: usize) {
        self.faults.lock().expect("lock").extend(std::iter::repeat_n(fault, n));
    }

    /// Every call so far, by name (a Slack method, a Teams webhook's name).
    pub fn calls(&self) -> BTreeMap<String, usize> {
        self.calls.lock().expect("lock").clone()
    }

    /// Counts a call to `name` and takes the fault it meets, if any.
    fn call(&self, name: &str) -> Option<Fault> {
        *self.calls.lock().expect("lock").entry(name.to_owned()).or_insert(0) += 1;
        self.faults.lock().expect("lock").pop_front()
    }
}

/// A request as a fake sees it.
pub struct Call {
    /// The path, without the query.
    pub path: String,
    /// The query, if any.
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// What a fake answers: a status, its headers and a body.
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json; charset=utf-8".into())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// A fake's handler: (the call's name, for counting; the fake's own answer, run unless a fault stops it).
pub trait Handler: Send + Sync + 'static {
    /// The name a call is counted under (`chat.postMessage`, a webhook's name).
    fn name(&self, call: &Call) -> String;
    /// Processes the call.
    fn handle(&self, call: &Call) -> Reply;
    /// The answer to a fault that stops the call (a 429 or a 500), as the service words it.
    fn fault_reply(&self, fault: Fault) -> Reply;
}

/// Serves `handler` on a free loopback port; returns its address and the server task (abort to stop).
pub async fn serve<H: Handler>(handler: Arc<H>, wire: Arc<Wire>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (handler, wire) = (handler.clone(), wire.clone());
            tokio::spawn(async move {
                let abort = Arc::new(tokio::sync::Notify::new());
                let service = {
                    let abort = abort.clone();
                    service_fn(move |request| respond(handler.clone(), wire.clone(), abort.clone(), request))
                };
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    // Dropping the connection closes the socket: the client reads EOF where the reply should be.
                    () = abort.notified() => {}
                }
            });
        }
    });
    (addr, task)
}

async fn respond<H: Handler>(
    handler: Arc<H>,
    wire: Arc<Wire>,
    abort: Arc<tokio::sync::Notify>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let call = Call {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: body.collect().await.map(|b| b.to_bytes()).unwrap_or_default(),
    };
    let reply = match wire.call(&handler.name(&call)) {
        Some(Fault::LostReply) => {
            handler.handle(&call);
            abort.notify_one();
            return std::future::pending().await;
        }
        Some(fault) => handler.fault_reply(fault),
        None => handler.handle(&call),
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    Ok(response.body(Full::new(Bytes::from(reply.body))).expect("a response"))
}

//! A fault proxy on loopback in front of one AWS endpoint (DynamoDB or SQS): the SDK clients talk to it,
//! it forwards to the real (local) endpoint, and the test tells it at run time which operation to fail,
//! how and how often. Every fault is answered the way AWS answers it on the wire (status, `__type`, body
//! shape, SQS's `x-amzn-query-error`), so what is exercised is the SDK's parsing and retrying and the
//! adapters' handling of AWS's real error responses, not a stand-in at the port.
//!
//! ```ignore
//! let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
//! proxy.set(Operation::TransactWriteItems, Fault::TransactionConflict { item: 0 }.at_rate(0.3));
//! proxy.set(Operation::SendMessageBatch, Fault::DropResponse.times(1));
//! ```
//!
//! The operation is recognised by the `X-Amz-Target` header (`DynamoDB_20120810.TransactWriteItems`;
//! `AmazonSQS.SendMessageBatch`: the SDK speaks SQS's JSON protocol). Per operation it counts the requests
//! received, those forwarded (and what the endpoint answered them), and the faults injected by kind.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Which AWS service the proxy stands in front of: it decides the wire shape of each error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB (AWS JSON 1.0, `__type` in the body).
    DynamoDb,
    /// SQS (AWS JSON 1.0, query-compatible: the error code is also in `x-amzn-query-error`).
    Sqs,
    /// Step Functions (AWS JSON 1.0, `__type` in the body).
    StepFunctions,
    /// SES v2 (REST JSON: the operation is the path, the error code `__type` in the body).
    Ses,
}

/// An operation, from the `X-Amz-Target` header's part after the dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// DynamoDB `TransactWriteItems`: acceptance and timeout.
    TransactWriteItems,
    /// DynamoDB `GetItem`.
    GetItem,
    /// DynamoDB `PutItem`: creation.
    PutItem,
    /// DynamoDB `UpdateItem`: cancel, marking published.
    UpdateItem,
    /// DynamoDB `Query`: the outbox, submissions, lists.
    Query,
    /// SQS `SendMessageBatch`: publishing.
    SendMessageBatch,
    /// Step Functions `SendTaskSuccess`: answering a waiting run.
    SendTaskSuccess,
    /// Step Functions `SendTaskHeartbeat`: proving a task token on attach.
    SendTaskHeartbeat,
    /// SES v2 `SendEmail` (`POST /v2/email/outbound-emails`): a message to a reviewer.
    SendEmail,
    /// Any other operation, by name.
    Other(String),
}

impl Operation {
    /// The operation of an `X-Amz-Target` value (`DynamoDB_20120810.GetItem`).
    pub fn from_target(target: &str) -> Self {
        match target.rsplit('.').next().unwrap_or(target) {
            "TransactWriteItems" => Self::TransactWriteItems,
            "GetItem" => Self::GetItem,
            "PutItem" => Self::PutItem,
            "UpdateItem" => Self::UpdateItem,
            "Query" => Self::Query,
            "SendMessageBatch" => Self::SendMessageBatch,
            "SendTaskSuccess" => Self::SendTaskSuccess,
            "SendTaskHeartbeat" => Self::SendTaskHeartbeat,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The operation of a request: its `X-Amz-Target`, or for a REST service (SES v2) its path.
    pub fn of(target: &str, path: &str) -> Self {
        match (target, path) {
            ("", "/v2/email/outbound-emails") => Self::SendEmail,
            ("", path) => Self::Other(path.to_owned()),
            (target, _) => Self::from_target(target),
        }
    }
}

/// A fault, answered as AWS answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB: `TransactionCanceledException`, the reason `TransactionConflict` on the request's `item`-th
    /// action and `None` on the others (one reason per action, as DynamoDB lists them). Nothing is forwarded.
    TransactionConflict {
        /// Which action of the transaction conflicted (0: the first).
        item: usize,
    },
    /// `ThrottlingException` (DynamoDB) or `RequestThrottled` (SQS), 400. Not forwarded.
    Throttling,
    /// DynamoDB `ProvisionedThroughputExceededException`, 400. Not forwarded.
    ProvisionedThroughputExceeded,
    /// `InternalServerError` (DynamoDB) or `InternalFailure` (SQS), 500. Not forwarded.
    InternalServerError,
    /// `ServiceUnavailable`, 503. Not forwarded.
    ServiceUnavailable,
    /// Forwarded (it takes effect upstream), then the connection is closed without an answer: the reply is
    /// lost.
    DropResponse,
    /// Held this long, then forwarded (whether or not the client is still waiting) and answered: past the
    /// client's attempt timeout, the write lands after the SDK gave up on it.
    Latency(Duration),
    /// Step Functions' refusal of a task token (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`), 400:
    /// what AWS answers where moto would accept (a second answer, one after the task timed out). Not
    /// forwarded.
    TaskRefused(&'static str),
    /// Step Functions' success (200, `{}`), for a token no endpoint here issued. Not forwarded.
    TaskTaken,
    /// SES's refusal with this code (`MessageRejected`, `AccountSuspendedException`, …), 400: what AWS
    /// answers where moto would send. Not forwarded.
    SesRefused(&'static str),
}

impl Fault {
    /// The fault's kind, as counted.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TransactionConflict { .. } => "TransactionConflict",
            Self::Throttling => "Throttling",
            Self::ProvisionedThroughputExceeded => "ProvisionedThroughputExceeded",
            Self::InternalServerError => "InternalServerError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::DropResponse => "DropResponse",
            Self::Latency(_) => "Latency",
            Self::TaskRefused(code) => code,
            Self::TaskTaken => "TaskTaken",
            Self::SesRefused(code) => code,
        }
    }

    /// Whether the fault answers with a 5xx, after which AWS does not say whether the write was applied.
    pub fn server_error(&self) -> bool {
        matches!(self, Self::InternalServerError | Self::ServiceUnavailable)
    }

    /// Whether a request with this fault still reaches the endpoint.
    pub fn forwards(&self) -> bool {
        matches!(self, Self::DropResponse | Self::Latency(_))
    }

    /// This fault on each request with probability `rate`.
    pub fn at_rate(self, rate: f64) -> Rule {
        Rule { fault: self, rate, remaining: None }
    }

    /// This fault on the next `n` requests.
    pub fn times(self, n: usize) -> Rule {
        Rule { fault: self, rate: 1.0, remaining: Some(n) }
    }

    /// This fault on every request.
    pub fn always(self) -> Rule {
        Rule { fault: self, rate: 1.0, remaining: None }
    }
}

/// When a fault is injected: on each request with probability `rate`, at most `remaining` times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// The fault.
    pub fault: Fault,
    /// The probability, per request, of injecting it.
    pub rate: f64,
    /// How many more times, if bounded.
    pub remaining: Option<usize>,
}

/// What the proxy saw of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests received.
    pub received: usize,
    /// Requests forwarded to the endpoint (including those whose reply was then dropped).
    pub forwarded: usize,
    /// The endpoint's answers to them, by status.
    pub upstream: BTreeMap<u16, usize>,
    /// Faults injected, by kind.
    pub injected: BTreeMap<&'static str, usize>,
}

impl Counts {
    /// All faults injected.
    pub fn faults(&self) -> usize {
        self.injected.values().sum()
    }
}

#[derive(Default)]
struct State {
    rules: BTreeMap<Operation, Rule>,
    /// The rules that follow each operation's rule once it is used up, in order.
    scripts: BTreeMap<Operation, std::collections::VecDeque<Rule>>,
    counts: BTreeMap<Operation, Counts>,
    /// The JSON bodies of the forwarded requests, by operation (what reached the endpoint).
    bodies: BTreeMap<Operation, Vec<Value>>,
    in_flight: usize,
}

struct Shared {
    service: Service,
    upstream: String,
    client: reqwest::Client,
    state: Mutex<State>,
    rng: Mutex<fastrand::Rng>,
    idle: tokio::sync::Notify,
}

/// A running fault proxy; stops when dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy for `service` on a free loopback port, forwarding to `upstream`
    /// (`http://127.0.0.1:5000`); which requests a rate picks follows a fixed seed.
    pub async fn start(service: Service, upstream: &str) -> Self {
        Self::with_seed(service, upstream, 0x5eed).await
    }

    /// [`FaultProxy::start`] with the seed of the rate's choices.
    pub async fn with_seed(service: Service, upstream: &str, seed: u64) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            service,
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("an HTTP client"),
            state: Mutex::new(State::default()),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            idle: tokio::sync::Notify::new(),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Self { shared, addr, task }
    }

    /// The proxy's endpoint URL (`http://127.0.0.1:<port>`), for a client's `endpoint_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Injects `rule` into `operation` from now on (replacing any rule it had).
    pub fn set(&self, operation: Operation, rule: Rule) {
        let dynamodb_only =
            matches!(rule.fault, Fault::TransactionConflict { .. } | Fault::ProvisionedThroughputExceeded);
        assert!(
            !(self.shared.service == Service::Sqs && dynamodb_only),
            "{} is a DynamoDB error; SQS never answers it",
            rule.fault.kind()
        );
        let mut state = self.shared.state.lock().expect("lock");
        state.scripts.remove(&operation);
        state.rules.insert(operation, rule);
    }

    /// Injects `rules` into `operation` one after another, each once the one before is used up (bounded
    /// rules, `Fault::times`): e.g. the first answer's reply dropped, then the second refused.
    pub fn script(&self, operation: Operation, rules: Vec<Rule>) {
        let mut rules: std::collections::VecDeque<Rule> = rules.into();
        let Some(first) = rules.pop_front() else { return self.clear(&operation) };
        self.set(operation.clone(), first);
        self.shared.state.lock().expect("lock").scripts.insert(operation, rules);
    }

    /// Stops injecting into `operation`.
    pub fn clear(&self, operation: &Operation) {
        self.shared.state.lock().expect("lock").rules.remove(operation);
    }

    /// Stops injecting anywhere.
    pub fn clear_all(&self) {
        self.shared.state.lock().expect("lock").rules.clear();
    }

    /// What the proxy saw of `operation` so far.
    pub fn counts(&self, operation: &Operation) -> Counts {
        self.shared.state.lock().expect("lock").counts.get(operation).cloned().unwrap_or_default()
    }

    /// What the proxy saw of every operation so far.
    pub fn all_counts(&self) -> BTreeMap<Operation, Counts> {
        self.shared.state.lock().expect("lock").counts.clone()
    }

    /// The JSON bodies of the `operation` requests that reached the endpoint, in order.
    pub fn forwarded_bodies(&self, operation: &Operation) -> Vec<Value> {
        self.shared.state.lock().expect("lock").bodies.get(operation).cloned().unwrap_or_default()
    }

    /// Forgets the counts and bodies (the rules stay).
    pub fn reset_counts(&self) {
        let mut state = self.shared.state.lock().expect("lock");
        state.counts.clear();
        state.bodies.clear();
    }

    /// Waits until no request is held or being forwarded (a delayed request has landed), up to `limit`.
    pub async fn settled(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.idle.notified();
            if self.shared.state.lock().expect("lock").in_flight == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("requests still in flight through the proxy after {limit:?}");
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            // Set to close the connection without an answer (after a forwarded request whose reply is lost).
            let abort = Arc::new(tokio::sync::Notify::new());
            let service = {
                let abort = abort.clone();
                service_fn(move |request| handle(shared.clone(), abort.clone(), request))
            };
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes the socket: the client reads EOF where the reply should be.
                () = abort.notified() => {}
            }
        });
    }
}

/// What to do with one request.
enum Decision {
    Forward,
    Inject(Fault),
}

async fn handle(
    shared: Arc<Shared>,
    abort: Arc<tokio::sync::Notify>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let operation = Operation::of(target, parts.uri.path());
    let decision = {
        let mut state = shared.state.lock().expect("lock");
        state.counts.entry(operation.clone()).or_default().received += 1;
        if state.rules.get(&operation).is_some_and(|r| r.remaining == Some(0)) {
            if let Some(next) = state.scripts.get_mut(&operation).and_then(|s| s.pop_front()) {
                state.rules.insert(operation.clone(), next);
            }
        }
        let decision = match state.rules.get_mut(&operation) {
            Some(rule) if rule.remaining != Some(0) && shared.rng.lock().expect("lock").f64() < rule.rate => {
                if let Some(remaining) = rule.remaining.as_mut() {
                    *remaining -= 1;
                }
                Decision::Inject(rule.fault)
            }
            _ => Decision::Forward,
        };
        if let Decision::Inject(fault) = decision {
            *state.counts.entry(operation.clone()).or_default().injected.entry(fault.kind()).or_insert(0) += 1;
        }
        decision
    };
    let fault = match decision {
        Decision::Forward => None,
        Decision::Inject(fault) if fault.forwards() => Some(fault),
        Decision::Inject(Fault::TaskTaken) => {
            let response = Response::builder().status(200).header("content-type", "application/x-amz-json-1.0");
            return Ok(response.body(Full::new(Bytes::from_static(b"{}"))).expect("a response"));
        }
        Decision::Inject(fault) => return Ok(error_response(shared.service, fault, &body)),
    };
    // The forward runs on its own task: a client that gives up (its attempt timed out) does not stop a
    // request that has left, as it would not stop one on its way to AWS.
    let delay = match fault {
        Some(Fault::Latency(delay)) => delay,
        _ => Duration::ZERO,
    };
    shared.state.lock().expect("lock").in_flight += 1;
    let forward = tokio::spawn(forward(shared.clone(), operation, parts, body, delay));
    let response = forward.await.unwrap_or_else(|e| Err(e.to_string()));
    if fault == Some(Fault::DropResponse) {
        abort.notify_one();
        return std::future::pending().await;
    }
    Ok(response.unwrap_or_else(|error| {
        let mut response = Response::new(Full::new(Bytes::from(format!("the fault proxy could not forward: {error}"))));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    }))
}

async fn forward(
    shared: Arc<Shared>,
    operation: Operation,
    parts: http::request::Parts,
    body: Bytes,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, String> {
    tokio::time::sleep(delay).await;
    let result = send(&shared, &parts, body.clone()).await;
    let mut state = shared.state.lock().expect("lock");
    let counts = state.counts.entry(operation.clone()).or_default();
    counts.forwarded += 1;
    if let Ok(response) = &result {
        *counts.upstream.entry(response.status().as_u16()).or_insert(0) += 1;
    }
    state.bodies.entry(operation).or_default().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    state.in_flight -= 1;
    if state.in_flight == 0 {
        shared.idle.notify_waiters();
    }
    result
}

async fn send(shared: &Shared, parts: &http::request::Parts, body: Bytes) -> Result<Response<Full<Bytes>>, String> {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = shared.client.request(parts.method.clone(), format!("{}{path}", shared.upstream));
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
            request = request.header(name, value);
        }
    }
    let upstream = request.body(body).send().await.map_err(|e| e.to_string())?;
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
            response = response.header(name, value);
        }
    }
    let bytes = upstream.bytes().await.map_err(|e| e.to_string())?;
    response.body(Full::new(bytes)).map_err(|e| e.to_string())
}

/// AWS's answer for `fault` to a request with `body`: status, headers and JSON body as the service sends it.
pub fn error_response(service: Service, fault: Fault, body: &[u8]) -> Response<Full<Bytes>> {
    let (status, error_type, query_error, payload) = error_parts(service, fault, body);
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", format!("FAULTPROXY{:022}", fastrand::u64(..)));
    if let Some(query_error) = query_error {
        response = response.header("x-amzn-query-error", query_error);
    }
    let mut payload = payload;
    payload["__type"] = json!(error_type);
    response.body(Full::new(Bytes::from(payload.to_string()))).expect("a response")
}

/// (status, `__type`, `x-amzn-query-error`, the body's other members) of `fault`.
fn error_parts(service: Service, fault: Fault, body: &[u8]) -> (u16, String, Option<String>, Value) {
    const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
    match (service, fault) {
        (Service::DynamoDb, Fault::TransactionConflict { item }) => {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let items = request["TransactItems"].as_array().map_or(1, Vec::len).max(item + 1);
            let reasons: Vec<Value> = (0..items)
                .map(|i| {
                    if i == item {
                        json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
                    } else {
                        json!({"Code": "None"})
                    }
                })
                .collect();
            let codes: Vec<&str> = (0..items).map(|i| if i == item { "TransactionConflict" } else { "None" }).collect();
            let message = format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            );
            (
                400,
                format!("{DYNAMODB}#TransactionCanceledException"),
                None,
                json!({"CancellationReasons": reasons, "Message": message}),
            )
        }
        (Service::DynamoDb, Fault::Throttling) => (
            400,
            "com.amazon.coral.availability#ThrottlingException".into(),
            None,
            json!({"message": "Rate of requests exceeds the allowed throughput."}),
        ),
        (Service::DynamoDb, Fault::ProvisionedThroughputExceeded) => (
            400,
            format!("{DYNAMODB}#ProvisionedThroughputExceededException"),
            None,
            json!({"message": "The level of configured provisioned throughput for the table was exceeded. \
                               Consider increasing your provisioning level with the UpdateTable API."}),
        ),
        (Service::DynamoDb, Fault::InternalServerError) => {
            (500, format!("{DYNAMODB}#InternalServerError"), None, json!({"message": "Internal server error"}))
        }
        (Service::DynamoDb, Fault::ServiceUnavailable) => (
            503,
            "com.amazon.coral.availability#ServiceUnavailableException".into(),
            None,
            json!({"message": "DynamoDB is currently unavailable. (This should be a temporary state.)"}),
        ),
        (Service::Sqs, Fault::Throttling) => (
            400,
            "com.amazonaws.sqs#RequestThrottled".into(),
            Some("RequestThrottled;Sender".into()),
            json!({"message": "Rate exceeded"}),
        ),
        (Service::Sqs, Fault::InternalServerError) => (
            500,
            "com.amazon.coral.service#InternalFailure".into(),
            Some("InternalFailure;Receiver".into()),
            json!({"message": "The request processing has failed because of an unknown error, exception or failure."}),
        ),
        (Service::Sqs, Fault::ServiceUnavailable) => (
            503,
            "com.amazon.coral.availability#ServiceUnavailableException".into(),
            Some("ServiceUnavailable;Receiver".into()),
            json!({"message": "The request has failed due to a temporary failure of the server."}),
        ),
        (Service::StepFunctions, Fault::TaskRefused(code)) => {
            (400, code.into(), None, json!({"message": format!("{code} (the fault proxy)")}))
        }
        (Service::StepFunctions, Fault::Throttling) => {
            (400, "ThrottlingException".into(), None, json!({"message": "Rate exceeded"}))
        }
        (Service::Ses, Fault::Throttling) => {
            (429, "TooManyRequestsException".into(), None, json!({"message": "Maximum sending rate exceeded."}))
        }
        (Service::Ses, Fault::InternalServerError) => {
            (500, "InternalFailure".into(), None, json!({"message": "An internal error occurred."}))
        }
        (Service::Ses, Fault::ServiceUnavailable) => {
            (503, "ServiceUnavailable".into(), None, json!({"message": "Service Unavailable"}))
        }
        (Service::Ses, Fault::SesRefused(code)) => {
            (400, code.into(), None, json!({"message": format!("{code} (the fault proxy)")}))
        }
        (service, fault) => panic!("{service:?} has no error response for {fault:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};

    /// An upstream that answers every request `{}` (a successful empty JSON output) and counts them.
    async fn echo_upstream() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_request: Request<Incoming>| {
                        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let response = Response::builder()
                            .header("content-type", "application/x-amz-json-1.0")
                            .body(Full::new(Bytes::from_static(b"{}")))
                            .unwrap();
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        (url, hits)
    }

    async fn sdk_config(endpoint: &str, attempts: u32) -> aws_config::SdkConfig {
        crate::aws::loader()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "t"))
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(attempts)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(300))
                    .build(),
            )
            .endpoint_url(endpoint)
            .load()
            .await
    }

    async fn dynamodb(endpoint: &str, attempts: u32) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&sdk_config(endpoint, attempts).await)
    }

    fn check(key: &str) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name("t")
            .key("pk", AttributeValue::S(key.into()))
            .condition_expression("attribute_exists(pk)")
            .build()
            .unwrap();
        TransactWriteItem::builder().condition_check(check).build()
    }

    async fn transact(client: &aws_sdk_dynamodb::Client, items: usize) -> Result<(), TransactWriteItemsError> {
        let items = (0..items).map(|i| check(&format!("k{i}"))).collect();
        client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.into_service_error())
    }

    #[tokio::test]
    async fn it_forwards_and_counts() {
        let (upstream, hits) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
        let client = dynamodb(&proxy.url(), 1).await;
        client.get_item().table_name("t").key("pk", AttributeValue::S("x".into())).send().await.unwrap();
        transact(&client, 2).await.unwrap();
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
        let counts = proxy.counts(&Operation::GetItem);
        assert_eq!((counts.received, counts.forwarded, counts.faults()), (1, 1, 0));
        assert_eq!(counts.upstream, BTreeMap::from([(200, 1)]));
        let bodies = proxy.forwarded_bodies(&Operation::TransactWriteItems);
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0]["TransactItems"].as_array().unwrap().len(), 2, "the request reached upstream as sent");
    }

    #[tokio::test]
    async fn a_conflict_is_the_sdks_transaction_canceled_exception_with_one_reason_per_item() {
        let (upstream, hits) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
        let client = dynamodb(&proxy.url(), 4).await;
        proxy.set(Operation::TransactWriteItems, Fault::TransactionConflict { item: 0 }.always());
        let error = transact(&client, 2).await.unwrap_err();
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &error else {
            panic!("not a TransactionCanceledException: {error:?}")
        };
        let reasons: Vec<(Option<&str>, Option<&str>)> =
            cancelled.cancellation_reasons().iter().map(|r| (r.code(), r.message())).collect();
        assert_eq!(
            reasons,
            vec![(Some("TransactionConflict"), Some("Transaction is ongoing for the item")), (Some("None"), None)]
        );
        assert_eq!(
            cancelled.message(),
            Some("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]")
        );
        // Not retried by the SDK (the product's own loop decides), and never forwarded.
        let counts = proxy.counts(&Operation::TransactWriteItems);
        assert_eq!((counts.received, counts.forwarded), (1, 0));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);

        proxy.set(Operation::TransactWriteItems, Fault::TransactionConflict { item: 2 }.always());
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = transact(&client, 3).await.unwrap_err()
        else {
            panic!("not a TransactionCanceledException")
        };
        let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
        assert_eq!(codes, ["None", "None", "TransactionConflict"]);
        assert!(cancelled.message().unwrap().ends_with("[None, None, TransactionConflict]"));
    }

    #[tokio::test]
    async fn each_dynamodb_error_is_the_sdks_modeled_error_and_retried_as_aws_says() {
        let (upstream, _) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
        let once = dynamodb(&proxy.url(), 1).await;
        proxy.set(Operation::TransactWriteItems, Fault::Throttling.always());
        assert!(matches!(transact(&once, 2).await, Err(TransactWriteItemsError::ThrottlingException(_))));
        proxy.set(Operation::TransactWriteItems, Fault::ProvisionedThroughputExceeded.always());
        assert!(matches!(
            transact(&once, 2).await,
            Err(TransactWriteItemsError::ProvisionedThroughputExceededException(_))
        ));
        proxy.set(Operation::TransactWriteItems, Fault::InternalServerError.always());
        assert!(matches!(transact(&once, 2).await, Err(TransactWriteItemsError::InternalServerError(_))));
        proxy.set(Operation::TransactWriteItems, Fault::ServiceUnavailable.always());
        let error = once.transact_write_items().set_transact_items(Some(vec![check("k")])).send().await.unwrap_err();
        assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(503));
        assert_eq!(aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&error), Some("ServiceUnavailableException"));

        // With retries: each of these is transient for the SDK, so three failures then success is a success.
        let retrying = dynamodb(&proxy.url(), 4).await;
        for fault in [
            Fault::Throttling,
            Fault::ProvisionedThroughputExceeded,
            Fault::InternalServerError,
            Fault::ServiceUnavailable,
            Fault::DropResponse,
            Fault::Latency(Duration::from_millis(600)),
        ] {
            proxy.reset_counts();
            proxy.set(Operation::TransactWriteItems, fault.times(3));
            transact(&retrying, 2).await.unwrap_or_else(|e| panic!("{fault:?} ×3 then success: {e:?}"));
            proxy.settled(Duration::from_secs(5)).await;
            let counts = proxy.counts(&Operation::TransactWriteItems);
            assert_eq!(counts.received, 4, "{fault:?}");
            assert_eq!(counts.injected, BTreeMap::from([(fault.kind(), 3)]), "{fault:?}");
            assert_eq!(counts.forwarded, if fault.forwards() { 4 } else { 1 }, "{fault:?}");
        }
    }

    #[tokio::test]
    async fn sqs_errors_are_the_sdks_modeled_errors() {
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let (upstream, _) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::Sqs, &upstream).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk_config(&proxy.url(), 1).await);
        let send = || {
            sqs.send_message_batch()
                .queue_url("http://q.example/123456789012/q")
                .entries(SendMessageBatchRequestEntry::builder().id("m0").message_body("{}").build().unwrap())
                .send()
        };
        send().await.unwrap();
        assert_eq!(
            proxy.counts(&Operation::SendMessageBatch).forwarded,
            1,
            "the SDK's target is AmazonSQS.SendMessageBatch"
        );
        proxy.set(Operation::SendMessageBatch, Fault::Throttling.always());
        let error = send().await.unwrap_err().into_service_error();
        assert!(matches!(error, SendMessageBatchError::RequestThrottled(_)), "{error:?}");
        proxy.set(Operation::SendMessageBatch, Fault::InternalServerError.always());
        let error = send().await.unwrap_err();
        assert_eq!(aws_sdk_sqs::error::ProvideErrorMetadata::code(&error), Some("InternalFailure"));
        assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(500));
    }

    #[tokio::test]
    async fn it_injects_at_the_rate_asked() {
        let (upstream, hits) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
        let client = dynamodb(&proxy.url(), 1).await;
        proxy.set(Operation::TransactWriteItems, Fault::TransactionConflict { item: 0 }.at_rate(0.3));
        let mut cancelled = 0;
        for _ in 0..1_000 {
            if transact(&client, 2).await.is_err() {
                cancelled += 1;
            }
        }
        let counts = proxy.counts(&Operation::TransactWriteItems);
        assert_eq!(counts.received, 1_000);
        assert_eq!(counts.injected["TransactionConflict"], cancelled);
        assert_eq!(counts.forwarded, 1_000 - cancelled);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1_000 - cancelled);
        // 300 expected; ±4.6 standard deviations.
        assert!((235..=365).contains(&cancelled), "{cancelled} of 1,000 at 30 %");
        proxy.clear(&Operation::TransactWriteItems);
        transact(&client, 2).await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_reply_is_forwarded_then_the_connection_closes_without_an_answer() {
        let (upstream, hits) = echo_upstream().await;
        let proxy = FaultProxy::start(Service::DynamoDb, &upstream).await;
        let client = dynamodb(&proxy.url(), 1).await;
        proxy.set(Operation::TransactWriteItems, Fault::DropResponse.times(1));
        let error = client.transact_write_items().set_transact_items(Some(vec![check("k")])).send().await.unwrap_err();
        assert!(error.raw_response().is_none(), "no answer at all: {error:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "it reached upstream");
        let text = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
        assert!(!text.contains("timeout"), "the connection closed; nothing timed out: {text}");
    }
}

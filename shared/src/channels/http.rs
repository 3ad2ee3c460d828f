//! The HTTPS client of the Slack and Teams adapters: hyper's HTTP/1 client on rustls (ring) with the
//! system's roots — the stack the AWS SDK already links, so messages add none — and the one distinction
//! their callers need after a failure: whether the request can have reached the provider.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::ports::messages::ChannelError;

/// How long a request may take, connection included, before its answer counts as lost.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How a request failed.
#[derive(Debug)]
pub enum Failure {
    /// Nothing left: no connection was made (or TLS refused it).
    NotSent(String),
    /// The request may have been received: the connection closed, or no answer came in time.
    Lost(String),
}

impl Failure {
    /// The port's error for a failed call to `what`: never sent is safe to try again, lost is unconfirmed.
    pub fn channel_error(self, what: &str) -> ChannelError {
        match self {
            Self::NotSent(reason) => {
                ChannelError::Retry { reason: format!("{what}: {reason}"), retry_after_millis: None }
            }
            Self::Lost(reason) => ChannelError::Unconfirmed(format!("{what}: {reason}")),
        }
    }
}

/// An answer: its status, its `Retry-After` in seconds (if any) and its body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Bytes,
}

impl Answer {
    /// The provider's `Retry-After`, in milliseconds.
    pub fn retry_after_millis(&self) -> Option<u64> {
        self.retry_after.map(|seconds| seconds.saturating_mul(1000))
    }
}

type Inner = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client per process, built on first use (loading the system's roots is the slow part).
pub struct HttpsClient {
    client: OnceLock<Result<Inner, String>>,
}

impl HttpsClient {
    /// A client, not yet connected.
    pub const fn new() -> Self {
        Self { client: OnceLock::new() }
    }

    fn client(&self) -> Result<&Inner, Failure> {
        let built = self.client.get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            // A connection not made in time is a request that never left: safe to try again.
            http.set_connect_timeout(Some(CONNECT_TIMEOUT));
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|e| format!("the system's root certificates: {e}"))?
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Ok(Client::builder(TokioExecutor::new()).build(https))
        });
        built.as_ref().map_err(|e| Failure::NotSent(e.clone()))
    }

    /// POSTs `body` as JSON to `url`, with `authorization` if given.
    pub async fn post_json(&self, url: &str, authorization: Option<&str>, body: Vec<u8>) -> Result<Answer, Failure> {
        let mut request = http::Request::post(url).header("content-type", "application/json; charset=utf-8");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| Failure::NotSent(format!("the request: {e}")))?;
        let client = self.client()?;
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                let reason = error_chain(&e);
                if e.is_connect() {
                    Failure::NotSent(reason)
                } else {
                    Failure::Lost(reason)
                }
            })?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = response.into_body().collect().await.map_err(|e| Failure::Lost(error_chain(&e)))?.to_bytes();
            Ok(Answer { status, retry_after, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(Failure::Lost(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))))
    }
}

/// Checks an endpoint from configuration: `https`, or `http` to this machine only (a test's fake); the
/// error names `what` but never the URL (a webhook URL is a secret).
pub fn check_endpoint(what: &str, url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{what} is not a URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        scheme => Err(format!("{what} must be an https URL (http only to this machine), not {scheme}://…")),
    }
}

/// An error with its causes, `a: b: c`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

//! Support for the end-to-end tests: a local server on a free loopback port, a client for it, and (with
//! the `aws` feature) fresh tables and queues on a local AWS endpoint.

#[cfg(feature = "aws")]
pub mod aws;

use std::sync::Arc;

use human_intervention::domain::time::{Clock, ManualClock, SystemClock, Timestamp};
use human_intervention::web::local::{LocalConfig, LocalServer};
use serde_json::{json, Value};

/// A local server for one test, with its own port, store and queue.
pub struct TestServer {
    /// The server.
    pub server: LocalServer,
    /// Its base URL.
    pub url: String,
    /// An HTTP client that does not follow redirects.
    pub client: reqwest::Client,
}

impl TestServer {
    /// Starts a server on the system clock.
    pub async fn start() -> Self {
        Self::with_clock(Arc::new(SystemClock)).await
    }

    /// Starts a server on a clock the test moves.
    pub async fn with_manual_clock(at: Timestamp) -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(at));
        (Self::with_clock(clock.clone()).await, clock)
    }

    async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(LocalConfig { clock, ..LocalConfig::default() }).await
    }

    /// Starts a server with this configuration (e.g. on DynamoDB and SQS).
    pub async fn with_config(config: LocalConfig) -> Self {
        let server = LocalServer::start(config).await.expect("local server starts");
        let url = format!("http://{}", server.addr);
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { server, url, client }
    }

    /// Creates an intervention through `POST /interventions`; returns (status, body).
    pub async fn create_raw(&self, input: &Value) -> (u16, Value) {
        let response =
            self.client.post(format!("{}/interventions", self.url)).json(input).send().await.expect("create");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an intervention and returns (its link, its id).
    pub async fn create(&self, input: &Value) -> (String, String) {
        let (status, body) = self.create_raw(input).await;
        assert_eq!(status, 200, "creation refused: {body}");
        let key = input["generatedUrlContextKey"].as_str().expect("link key");
        (
            body["context"][key].as_str().expect("link").to_owned(),
            body["interventionId"].as_str().expect("id").to_owned(),
        )
    }

    /// Posts a form body to a link.
    pub async fn post_form(&self, link: &str, body: &str) -> reqwest::Response {
        self.client
            .post(link)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("post")
    }

    /// Posts `posts` submissions to `link` all at once, each with its own submission id; returns how many
    /// got each status.
    pub async fn post_concurrently(&self, link: &str, posts: usize) -> std::collections::BTreeMap<u16, usize> {
        let requests = (0..posts).map(|i| {
            let link = link.to_owned();
            let client = self.client.clone();
            tokio::spawn(async move {
                client
                    .post(&link)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("decision=approve&_submissionId=race-{i}"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        });
        let mut counts = std::collections::BTreeMap::new();
        for status in futures::future::join_all(requests).await {
            *counts.entry(status.expect("a task").expect("an answer")).or_insert(0) += 1;
        }
        counts
    }

    /// The queued continuations.
    pub async fn continuations(&self) -> Vec<Value> {
        let response = self.client.get(format!("{}/continuations", self.url)).send().await.expect("continuations");
        response.json().await.expect("a JSON array")
    }

    /// Waits (up to 5 s) until `n` continuations are queued, and returns them.
    pub async fn wait_for_continuations(&self, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            let queued = self.continuations().await;
            if queued.len() >= n {
                return queued;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.continuations().await
    }
}

/// The link-creation input of DESIGN.md "Interfaces", available until `until` (RFC 3339).
pub fn design_example(until: &str) -> Value {
    json!({
        "environmentId": "prod-eu",
        "tier": "Shared",
        "correlationId": "0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10",
        "runAvailableUntil": until,
        "ruleSetId": "refund-continue",
        "urlExpirationHours": 1,
        "maxUrlUses": 1,
        "generatedUrlContextKey": "approval.url",
        "formDocument": {
            "title": "Approve refund",
            "prompt": "Refund **120.50 EUR** to the customer?",
            "show": ["order.id", "order.amount"],
            "fields": [
                { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
                { "key": "refund.amount", "label": "Amount", "type": "decimal", "min": 0, "max": 1000, "prefill": "order.amount" },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500 }
            ]
        },
        "context": { "order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com" },
        "secretKeys": ["customer.email"],
        "onTimeout": { "ruleSetId": "refund-timeout", "context": { "decision": "reject" } }
    })
}

/// The design example, available for a day from now.
pub fn example() -> Value {
    let until = SystemClock.now().plus_millis(24 * 3_600_000).to_rfc3339();
    design_example(&until)
}

/// The value of the hidden submission id in a rendered form.
pub fn submission_id_in(page: &str) -> String {
    let at = page.find("name=\"_submissionId\"").expect("a hidden submission id");
    let rest = &page[at..];
    let value = &rest[rest.find("value=\"").expect("a value") + 7..];
    value[..value.find('"').expect("closing quote")].to_owned()
}

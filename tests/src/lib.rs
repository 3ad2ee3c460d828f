//! Support for the end-to-end tests: a local server on a free loopback port, a client for it, strict fakes of
//! Slack and Teams, and (with the `aws` feature) fresh tables and queues on a local AWS endpoint.

#[cfg(feature = "aws")]
pub mod aws;
pub mod fakes;
#[cfg(feature = "aws")]
pub mod faults;
#[cfg(feature = "aws")]
pub mod suite;

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

    /// Creates an intervention with named reviewers and returns (reviewer id → link, its id).
    pub async fn create_for_reviewers(&self, input: &Value) -> (std::collections::BTreeMap<String, String>, String) {
        let (status, body) = self.create_raw(input).await;
        assert_eq!(status, 200, "creation refused: {body}");
        let key = input["generatedUrlContextKey"].as_str().expect("link key");
        let links = body["context"][key].as_object().expect("an object of reviewer id to link");
        (
            links.iter().map(|(id, link)| (id.clone(), link.as_str().expect("a link").to_owned())).collect(),
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

    /// The queued continuations, each checked against the contract's schema
    /// (`docs/schemas/continuation.schema.json`): every test that reads one checks it.
    pub async fn continuations(&self) -> Vec<Value> {
        let response = self.client.get(format!("{}/continuations", self.url)).send().await.expect("continuations");
        let queued: Vec<Value> = response.json().await.expect("a JSON array");
        queued.iter().for_each(assert_continuation_conforms);
        queued
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

/// The link-creation input of the contract (docs/interfaces.md, "Interfaces"; the fixture
/// `docs/examples/link-creation-input.json`), available until `until` (RFC 3339).
pub fn design_example(until: &str) -> Value {
    let mut input: Value =
        serde_json::from_str(DESIGN_EXAMPLE).expect("docs/examples/link-creation-input.json is JSON");
    input["runAvailableUntil"] = json!(until);
    input
}

/// The fixture `docs/examples/link-creation-input.json`, as written (its `runAvailableUntil` is fixed).
pub const DESIGN_EXAMPLE: &str = include_str!("../../docs/examples/link-creation-input.json");

/// The continuation message's JSON Schema (`docs/schemas/continuation.schema.json`).
pub const CONTINUATION_SCHEMA: &str = include_str!("../../docs/schemas/continuation.schema.json");

/// The link-creation input's JSON Schema (`docs/schemas/link-creation-input.schema.json`).
pub const CREATION_SCHEMA: &str = include_str!("../../docs/schemas/link-creation-input.schema.json");

/// One line of a decision log export's JSON Schema (`docs/schemas/decision-log-line.schema.json`).
pub const DECISION_LOG_SCHEMA: &str = include_str!("../../docs/schemas/decision-log-line.schema.json");

/// A JSON Schema 2020-12 validator for `schema`, with `format` (date-time, …) asserted.
pub fn validator(schema: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("a valid JSON Schema")
}

/// Every way `instance` breaks the schema of `validator`, one line each (empty when it conforms).
pub fn violations(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("at {:?}: {e}", e.instance_path().as_str())).collect()
}

/// Panics unless `continuation` conforms to `docs/schemas/continuation.schema.json`.
pub fn assert_continuation_conforms(continuation: &Value) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| validator(CONTINUATION_SCHEMA));
    let problems = violations(validator, continuation);
    assert!(
        problems.is_empty(),
        "a continuation breaks docs/schemas/continuation.schema.json: {problems:#?}\n{continuation:#}"
    );
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

/// The receipt keys the tests' publishers sign with (one process-wide key; the tests that check a
/// receipt publish these keys).
pub fn receipts() -> &'static human_intervention::memory::LocalReceipts {
    static KEYS: std::sync::OnceLock<human_intervention::memory::LocalReceipts> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| human_intervention::memory::LocalReceipts::random("test").expect("a random receipt key"))
}

/// A message to a reviewer as the outbox would compose it, with `buttons` option buttons (Approve, Reject, …).
pub fn sample_message(buttons: usize) -> human_intervention::domain::message::MessageContent {
    use human_intervention::domain::message::{Button, ButtonStyle, MessageContent, MessageKind};
    MessageContent {
        kind: MessageKind::Request,
        title: "Approve refund".into(),
        prompt: Some("Refund **120.50 EUR** to the customer? See [the order](https://shop.example/o/1).".into()),
        details: vec![("Order".into(), "A-1001".into()), ("Amount".into(), "120.50 EUR".into())],
        action: vec![("refund.amount".into(), "120.5".into())],
        asked_by: Some("Ann Example".into()),
        reviewer_name: Some("Bob Example".into()),
        expires_at: Timestamp::parse_rfc3339("2026-12-07T14:02:00Z").expect("an instant"),
        open_url: "https://hi.example/i/v2.form".into(),
        buttons: (0..buttons)
            .map(|i| Button {
                label: ["Approve", "Reject"][i % 2].into(),
                url: format!("https://hi.example/i/v3.{i}"),
                style: [ButtonStyle::Primary, ButtonStyle::Danger][i % 2],
            })
            .collect(),
    }
}

//! The store suite's bench: one Service (manual clock, memory scheduler, memory Step Functions, memory
//! queue) on either store, so each behaviour of the store port is one test body run on both.

use crate::receipts;
use std::sync::{Arc, Mutex};

use human_intervention::domain::continuation::Continuation;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::message::Configured;
use human_intervention::domain::task::{TaskAttachment, TaskToken};
use human_intervention::domain::time::{Clock, ManualClock, Timestamp};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::{MemoryQueue, MemoryScheduler, MemoryStore, MemoryTasks};
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::{
    publish_outbox, AttachError, Attached, Outlets, Service, SubmitRequest, SubmitResult, View,
};
use serde_json::Value;

/// 2026-11-25T10:00:00Z, the example input's creation time.
pub const START: i64 = 1_795_600_800_000;

/// A service on one store, with everything else in memory.
pub struct Bench {
    /// Which store: `memory` or `dynamodb`.
    pub name: &'static str,
    /// The store under test.
    pub store: Arc<dyn InterventionStore>,
    /// The service on it.
    pub service: Service,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Step Functions in memory.
    pub tasks: Arc<MemoryTasks>,
    /// The queue.
    pub queue: MemoryQueue,
    /// The timers (the timeout's and the reminder's), in memory.
    pub scheduler: Arc<MemoryScheduler>,
    /// The link keys, to sign a token that was never issued.
    pub keys: Arc<LinkKeys>,
    /// How many of the queue's messages [`Bench::collect`] has handed out.
    collected: Mutex<usize>,
}

/// A created intervention.
pub struct Created {
    /// Its id.
    pub id: InterventionId,
    /// Its link's token, or reviewer id → token.
    pub tokens: Value,
    /// Its link, or reviewer id → link (the context's `approval.url`).
    pub links: Value,
    /// When its links expire.
    pub expires: Timestamp,
}

impl Bench {
    /// On the memory store.
    pub fn memory() -> Self {
        Self::on("memory", Arc::new(MemoryStore::new()))
    }

    /// On DynamoDB (a fresh table on the local endpoint).
    pub async fn dynamodb() -> Self {
        let fixture = crate::aws::AwsFixture::new(false).await;
        Self::on("dynamodb", fixture.store.clone())
    }

    /// On `store` (a wrapped one, say), named `name` in failure messages.
    pub fn on(name: &'static str, store: Arc<dyn InterventionStore>) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
        let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![3; 32]).expect("key"), vec![]).expect("keys"));
        let tasks = Arc::new(MemoryTasks::new());
        let scheduler = Arc::new(MemoryScheduler::new());
        let service = Service::new(store.clone(), keys.clone(), clock.clone(), "https://links.example.com/")
            .with_scheduler(scheduler.clone())
            .with_tasks(tasks.clone())
            .with_receipts(std::sync::Arc::new(receipts().clone()))
            .with_channels(Configured { email: true, slack: true, teams: vec!["ops".into()], any_teams: false });
        let queue = MemoryQueue::new();
        Self { name, store, service, clock, tasks, queue, scheduler, keys, collected: Mutex::new(0) }
    }

    /// Creates an intervention: its id and its link's token(s) (the one link, or reviewer id → token).
    pub async fn create(&self, input: &Value) -> (InterventionId, Value) {
        let created = self.created(input).await;
        (created.id, created.tokens)
    }

    /// Creates an intervention: its id, token(s), link(s) and expiry.
    pub async fn created(&self, input: &Value) -> Created {
        let created = self.service.create(input.to_string().as_bytes()).await.expect("created");
        let id = InterventionId::parse(&created.intervention_id).expect("an id");
        let expires = Timestamp::parse_rfc3339(&created.expires_at).expect("an expiry");
        let context = serde_json::to_value(&created.context).expect("json");
        let links = context["approval.url"].clone();
        let token = |link: &Value| Value::String(link.as_str().expect("a link").rsplit('/').next().unwrap().to_owned());
        let tokens = match &links {
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), token(v))).collect()),
            link => token(link),
        };
        Created { id, tokens, links, expires }
    }

    /// A vote a second after the last one: `decision=<decision>&_submissionId=<sid>`.
    pub async fn vote(&self, token: &Value, decision: &str, sid: &str) -> SubmitResult {
        self.clock.advance(1_000);
        self.post(token, &format!("decision={decision}&_submissionId={sid}")).await
    }

    /// Publishes the outbox and hands out what reached the queue since the last call, oldest first (the
    /// queue keeps a continuation id once, as a FIFO queue does).
    pub async fn collect(&self) -> Vec<Continuation> {
        self.publish().await;
        let messages = self.queue.messages();
        let mut collected = self.collected.lock().expect("not poisoned");
        let new = messages[*collected..].to_vec();
        *collected = messages.len();
        new
    }

    /// Posts a form body to a token.
    pub async fn post(&self, token: &Value, body: &str) -> SubmitResult {
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        self.service.submit(token.as_str().expect("a token"), request).await.expect("submitted")
    }

    /// A reviewer's GET of a token.
    pub async fn view(&self, token: &Value) -> View {
        self.service.view(token.as_str().expect("a token")).await.expect("viewed")
    }

    /// Attaches a waiting run's token (issued by the memory Step Functions first).
    pub async fn attach(&self, id: InterventionId, token: &str) -> Result<Attached, AttachError> {
        self.tasks.issue(token);
        let attachment = TaskAttachment { intervention_id: id, token: TaskToken::parse(token).expect("token") };
        self.service.attach_task(&attachment).await
    }

    /// Attaches a durable function's callback id (issued by the memory Lambda first).
    pub async fn attach_callback(&self, id: InterventionId, callback_id: &str) -> Result<Attached, AttachError> {
        self.tasks.issue(callback_id);
        let token = TaskToken::callback(callback_id).expect("callback id");
        self.service.attach_task(&TaskAttachment { intervention_id: id, token }).await
    }

    /// Publishes the outbox (queue and waiting runs): how many went out.
    pub async fn publish(&self) -> usize {
        let outlets = Outlets {
            queue: &self.queue,
            tasks: Some(self.tasks.as_ref()),
            receipts: receipts(),
            messengers: Default::default(),
        };
        let now = self.clock.now();
        publish_outbox(self.store.as_ref(), outlets, now, now).await.expect("published")
    }
}

/// Whether a submission was accepted.
pub fn accepted(result: &SubmitResult) -> bool {
    matches!(result, SubmitResult::Accepted { .. })
}

/// `RACE_REPEATS` (default 2): how much longer the races on DynamoDB run (`make race` sets it).
pub fn race_repeats() -> usize {
    std::env::var("RACE_REPEATS").ok().and_then(|r| r.parse().ok()).unwrap_or(2)
}

/// Runs each named `async fn(Bench)` on both stores: `memory::<name>` and `dynamodb::<name>`. A name may
/// carry its own test attribute (a race: `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]`);
/// the others run on `#[tokio::test]`.
#[macro_export]
macro_rules! on_both_stores {
    (@test [] $name:ident $bench:expr) => {
        #[tokio::test]
        async fn $name() {
            super::$name($bench).await
        }
    };
    (@test [$attr:meta] $name:ident $bench:expr) => {
        #[$attr]
        async fn $name() {
            super::$name($bench).await
        }
    };
    ($($(#[$attr:meta])? $name:ident),* $(,)?) => {
        mod memory {
            $($crate::on_both_stores!(@test [$($attr)?] $name $crate::suite::Bench::memory());)*
        }
        mod dynamodb {
            $($crate::on_both_stores!(@test [$($attr)?] $name $crate::suite::Bench::dynamodb().await);)*
        }
    };
}

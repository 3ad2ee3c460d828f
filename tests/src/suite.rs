//! The store suite's bench: one Service (manual clock, memory scheduler, memory Step Functions, memory
//! queue) on either store, so each behaviour of the store port is one test body run on both.

use std::sync::Arc;

use human_intervention::domain::id::InterventionId;
use human_intervention::domain::task::{TaskAttachment, TaskToken};
use human_intervention::domain::time::{Clock, ManualClock, Timestamp};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::{MemoryQueue, MemoryScheduler, MemoryStore, MemoryTasks};
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::{
    publish_outbox, AttachError, Attached, Outlets, Service, SubmitRequest, SubmitResult,
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

    fn on(name: &'static str, store: Arc<dyn InterventionStore>) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
        let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![3; 32]).expect("key"), vec![]).expect("keys"));
        let tasks = Arc::new(MemoryTasks::new());
        let service = Service::new(store.clone(), keys, clock.clone(), "https://links.example.com/")
            .with_scheduler(Arc::new(MemoryScheduler::new()))
            .with_tasks(tasks.clone());
        Self { name, store, service, clock, tasks, queue: MemoryQueue::new() }
    }

    /// Creates an intervention: its id and its link's token(s) (the one link, or reviewer id → token).
    pub async fn create(&self, input: &Value) -> (InterventionId, Value) {
        let created = self.service.create(input.to_string().as_bytes()).await.expect("created");
        let id = InterventionId::parse(&created.intervention_id).expect("an id");
        let context = serde_json::to_value(&created.context).expect("json");
        let links = context["approval.url"].clone();
        let token = |link: &Value| Value::String(link.as_str().expect("a link").rsplit('/').next().unwrap().to_owned());
        let tokens = match &links {
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), token(v))).collect()),
            link => token(link),
        };
        (id, tokens)
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

    /// Attaches a waiting run's token (issued by the memory Step Functions first).
    pub async fn attach(&self, id: InterventionId, token: &str) -> Result<Attached, AttachError> {
        self.tasks.issue(token);
        let attachment = TaskAttachment { intervention_id: id, token: TaskToken::parse(token).expect("token") };
        self.service.attach_task(&attachment).await
    }

    /// Publishes the outbox (queue and waiting runs): how many went out.
    pub async fn publish(&self) -> usize {
        let outlets = Outlets { queue: &self.queue, tasks: Some(self.tasks.as_ref()) };
        let now = self.clock.now();
        publish_outbox(self.store.as_ref(), outlets, now, now).await.expect("published")
    }
}

/// Whether a submission was accepted.
pub fn accepted(result: &SubmitResult) -> bool {
    matches!(result, SubmitResult::Accepted { .. })
}

/// Runs each named `async fn(Bench)` on both stores: `memory::<name>` and `dynamodb::<name>`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::suite::Bench::memory()).await
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::suite::Bench::dynamodb().await).await
            })*
        }
    };
}

//! A fresh table and queue on the local AWS endpoints for each test, through the real SDK clients: moto
//! for SQS and the Scheduler, and for DynamoDB too unless `AWS_ENDPOINT_URL_DYNAMODB` names another
//! (dynoxide, started by tests/dynoxide/with-dynoxide.sh: atomic under concurrency, honours
//! ClientRequestToken).

use std::sync::Arc;

use human_intervention::aws::{DynamoStore, SqsQueue};
use human_intervention::domain::continuation::Continuation;
use human_intervention::domain::id::random_id;

/// aws-config's loader with the functions' HTTPS client (the tests configure endpoints and timeouts the
/// functions never need, so they keep aws-config; the functions read their environment directly).
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(human_intervention::aws::http_client_trusting(None).unwrap())
}

/// The SDK configuration for the local endpoint named by `AWS_ENDPOINT_URL` (set by `make test`).
pub async fn local_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run these tests with `make test`, which starts moto");
    loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        // moto accepts connections one thread at a time: a burst of a thousand overflows its listen
        // backlog, so connecting may take longer than the SDK's default 3.1 s.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder().connect_timeout(std::time::Duration::from_secs(30)).build(),
        )
        // For the same reason a response may start later than the SDK's stalled-stream grace period.
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled())
        .load()
        .await
}

/// A DynamoDB client on `config`, at `AWS_ENDPOINT_URL_DYNAMODB` when that is set (dynoxide). The SDK
/// reads that variable only when no endpoint was configured in code, and [`local_config`] configures
/// moto's for every service, so it is applied here, on the DynamoDB client's own configuration.
pub fn dynamodb_config(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    let builder = aws_sdk_dynamodb::config::Builder::from(config);
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => builder.endpoint_url(endpoint),
        _ => builder,
    }
}

/// The DynamoDB client of [`dynamodb_config`].
pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(dynamodb_config(config).build())
}

/// A table and a queue of this test's own.
pub struct AwsFixture {
    /// The SDK configuration.
    pub config: aws_config::SdkConfig,
    /// The store on the fresh table.
    pub store: Arc<DynamoStore>,
    /// The queue adapter on the fresh queue.
    pub queue: Arc<SqsQueue>,
    /// A raw SQS client, to read what was sent.
    pub sqs: aws_sdk_sqs::Client,
    /// A raw DynamoDB client (on the DynamoDB endpoint, [`dynamodb_client`]), to inspect items.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AwsFixture {
    /// Creates a table and a standard (or FIFO) queue with fresh names.
    pub async fn new(fifo: bool) -> Self {
        let config = local_config().await;
        let name = format!("hi-test-{}", random_id(6).expect("random").replace(['_', '-'], "x"));
        let dynamodb = dynamodb_client(&config);
        let store = DynamoStore::new(dynamodb.clone(), &name);
        store.create_table().await.expect("table created");
        let sqs = aws_sdk_sqs::Client::new(&config);
        let mut create = sqs.create_queue().queue_name(if fifo { format!("{name}.fifo") } else { name.clone() });
        if fifo {
            create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let url = create.send().await.expect("queue created").queue_url.expect("a queue URL");
        let queue = SqsQueue::new(sqs.clone(), url);
        Self { config, store: Arc::new(store), queue: Arc::new(queue), sqs, dynamodb }
    }

    /// A timeouts schedule group of this fixture's own on moto's EventBridge Scheduler, and the product's
    /// scheduler on it (targets as the template sets them; `dead_letter_arn` optional, as there).
    pub async fn timeouts(
        &self,
        dead_letter_arn: Option<&str>,
    ) -> (aws_sdk_scheduler::Client, String, human_intervention::aws::scheduler::EventBridgeScheduler) {
        self.timeouts_on(aws_sdk_scheduler::Client::new(&self.config), dead_letter_arn).await
    }

    /// [`AwsFixture::timeouts`] with the product's scheduler on `client` (one a [`CallCounter`] counts).
    pub async fn timeouts_on(
        &self,
        client: aws_sdk_scheduler::Client,
        dead_letter_arn: Option<&str>,
    ) -> (aws_sdk_scheduler::Client, String, human_intervention::aws::scheduler::EventBridgeScheduler) {
        use human_intervention::aws::scheduler::{EventBridgeScheduler, SchedulerTarget};
        let group = format!("{}-timeouts", self.store.table());
        client.create_schedule_group().name(&group).send().await.expect("a schedule group");
        let target = SchedulerTarget {
            group: group.clone(),
            function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:timeout".into(),
            role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
            dead_letter_arn: dead_letter_arn.map(str::to_owned),
        };
        (client.clone(), group, EventBridgeScheduler::new(client, target))
    }

    /// Every message on the queue (received and deleted), as continuations with their attributes.
    pub async fn drain(&self) -> Vec<(Continuation, std::collections::HashMap<String, String>)> {
        let mut all = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(self.queue.url())
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for message in messages {
                let body = message.body().expect("a body");
                let continuation: Continuation = serde_json::from_str(body).expect("a continuation");
                let attributes = message
                    .message_attributes()
                    .map(|m| {
                        m.iter().map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_owned())).collect()
                    })
                    .unwrap_or_default();
                all.push((continuation, attributes));
                if let Some(handle) = message.receipt_handle() {
                    self.sqs.delete_message().queue_url(self.queue.url()).receipt_handle(handle).send().await.ok();
                }
            }
        }
    }
}

/// Injected faults at the store seam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// Everything works.
    None,
    /// Acceptance fails before anything is sent (throttled or unavailable before commit).
    BeforeCommit,
    /// Acceptance commits, then the response is lost.
    ResponseLost,
}

/// A store that injects [`StoreFault`]s into acceptance, can lose the record of sent messages, and
/// otherwise passes through.
pub struct FaultyStore {
    /// The real store.
    pub inner: Arc<DynamoStore>,
    fault: std::sync::Mutex<StoreFault>,
    lost_settlements: std::sync::atomic::AtomicUsize,
}

impl FaultyStore {
    /// Wraps `inner`, healthy.
    pub fn new(inner: Arc<DynamoStore>) -> Self {
        Self { inner, fault: std::sync::Mutex::new(StoreFault::None), lost_settlements: Default::default() }
    }

    /// The next `n` settlements of a message fail as if the sender died after the provider took the
    /// message and before recording it: nothing is written, the claim stays.
    pub fn lose_settlements(&self, n: usize) {
        self.lost_settlements.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sets the fault for the following acceptances.
    pub fn set(&self, fault: StoreFault) {
        *self.fault.lock().expect("lock") = fault;
    }

    fn fault(&self) -> StoreFault {
        *self.fault.lock().expect("lock")
    }
}

use human_intervention::domain::id::{InterventionId, SubmissionId};
use human_intervention::domain::ledger::{Checkpoint, Entry};
use human_intervention::domain::lifecycle::{
    ActionRefusal, CancelRefusal, Change, ReminderBlock, SubmissionRefusal, TaskRefusal,
};
use human_intervention::domain::message::{Claim, Message, Slot};
use human_intervention::domain::model::TimeoutRefusal;
use human_intervention::domain::model::{Intervention, Submission};
use human_intervention::domain::task::TaskToken;
use human_intervention::domain::time::Timestamp;
use human_intervention::ports::store::{
    Acceptance, ActionOutcome, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, Page, ReminderOutcome,
    StoreError, TimeoutOutcome,
};

#[async_trait::async_trait]
impl InterventionStore for FaultyStore {
    async fn create(&self, intervention: &Intervention, messages: &[Message]) -> Result<(), StoreError> {
        self.inner.create(intervention, messages).await
    }
    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        self.inner.get(id).await
    }
    async fn act(
        &self,
        intervention: &Intervention,
        continuation: Option<&Continuation>,
        messages: &[Message],
        change: &Change<ActionRefusal>,
    ) -> Result<ActionOutcome, StoreError> {
        self.inner.act(intervention, continuation, messages, change).await
    }
    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.inner.find_submission(id, submission_id).await
    }
    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: Option<Continuation>,
        change: &Change<SubmissionRefusal>,
    ) -> Result<Acceptance, StoreError> {
        match self.fault() {
            StoreFault::None => self.inner.accept(intervention, submission, continuation, change).await,
            StoreFault::BeforeCommit => Err(StoreError::Unavailable("injected: throttled before commit".into())),
            StoreFault::ResponseLost => {
                let outcome = self.inner.accept(intervention, submission, continuation, change).await?;
                assert_eq!(outcome, Acceptance::Accepted, "the injected commit went through");
                Err(StoreError::Unavailable("injected: the commit's response was lost".into()))
            }
        }
    }
    async fn cancel(
        &self,
        intervention: &Intervention,
        change: &Change<CancelRefusal>,
    ) -> Result<CancelOutcome, StoreError> {
        self.inner.cancel(intervention, change).await
    }
    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        self.inner.by_correlation(correlation_id).await
    }
    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        self.inner.continuations(id).await
    }
    async fn attach_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<AttachOutcome, StoreError> {
        self.inner.attach_task(id, change).await
    }
    async fn claim_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<Option<TaskToken>, StoreError> {
        self.inner.claim_task(id, change).await
    }
    async fn settle_task(&self, id: &InterventionId, change: &Change<TaskRefusal>) -> Result<(), StoreError> {
        self.inner.settle_task(id, change).await
    }
    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        change: &Change<TimeoutRefusal>,
    ) -> Result<TimeoutOutcome, StoreError> {
        self.inner.time_out(intervention, continuation, change).await
    }
    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        messages: &[Message],
        change: &Change<ReminderBlock>,
    ) -> Result<ReminderOutcome, StoreError> {
        self.inner.remind(intervention, continuation, messages, change).await
    }
    async fn messages(&self, id: &InterventionId) -> Result<Vec<Message>, StoreError> {
        self.inner.messages(id).await
    }
    async fn unsent_messages(&self, limit: usize, due_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.inner.unsent_messages(limit, due_by).await
    }
    async fn open_messages(&self, limit: usize, expired_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.inner.open_messages(limit, expired_by).await
    }
    async fn claim_message(
        &self,
        id: &InterventionId,
        message_id: &str,
        claim: &Claim,
    ) -> Result<Option<Message>, StoreError> {
        self.inner.claim_message(id, message_id, claim).await
    }
    async fn settle_message(&self, message: &Message, slot: Option<Slot>) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let lost = self.lost_settlements.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if lost.is_ok() {
            return Err(StoreError::Unavailable("injected: the sender died before recording the message".into()));
        }
        self.inner.settle_message(message, slot).await
    }
    async fn submissions(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError> {
        self.inner.submissions(id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.inner.list(query).await
    }
    async fn unpublished(&self, limit: usize, recorded_by: Timestamp) -> Result<Vec<Continuation>, StoreError> {
        self.inner.unpublished(limit, recorded_by).await
    }
    async fn park(&self, continuation_id: &str, reason: &str, now: Timestamp) -> Result<(), StoreError> {
        self.inner.park(continuation_id, reason, now).await
    }
    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
        self.inner.mark_published(continuation_ids).await
    }
    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        self.inner.allowance_used(environment_id, year_month).await
    }
    async fn log_entries(&self, environment_id: &str) -> Result<Vec<Entry>, StoreError> {
        self.inner.log_entries(environment_id).await
    }
    async fn intervention_log(&self, id: &InterventionId) -> Result<Vec<Entry>, StoreError> {
        self.inner.intervention_log(id).await
    }
    async fn last_checkpoint(&self, environment_id: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.last_checkpoint(environment_id).await
    }
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.inner.add_checkpoint(checkpoint).await
    }
}

use human_intervention::ports::queue::{ContinuationQueue, QueueError, Refused};

/// A queue that can be taken down and brought back.
pub struct FlakyQueue {
    /// The real queue.
    pub inner: Arc<SqsQueue>,
    down: std::sync::atomic::AtomicBool,
}

impl FlakyQueue {
    /// Wraps `inner`, up.
    pub fn new(inner: Arc<SqsQueue>) -> Self {
        Self { inner, down: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Takes the queue down (`true`) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl ContinuationQueue for FlakyQueue {
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<Vec<Refused>, QueueError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(QueueError("injected: SQS is unavailable".into()));
        }
        self.inner.send_batch(continuations).await
    }
}

impl AwsFixture {
    /// The submissions recorded for an intervention (a strongly consistent query of its `S#` items).
    pub async fn recorded_submissions(&self, id: &str) -> usize {
        self.submission_records(id).await.len()
    }

    /// The stream records DynamoDB would deliver for the intervention's submissions (new images, in
    /// DynamoDB JSON), numbered from 100.
    pub async fn submission_records(&self, id: &str) -> Vec<human_intervention::aws::stream::StreamRecord> {
        self.records(id, "S#").await
    }

    /// The stream records of the intervention's items whose sort key starts with `prefix`.
    pub async fn records(&self, id: &str, prefix: &str) -> Vec<human_intervention::aws::stream::StreamRecord> {
        items_of(&self.dynamodb, self.store.table(), id, prefix)
            .await
            .iter()
            .enumerate()
            .map(|(i, item)| human_intervention::aws::stream::StreamRecord {
                sequence_number: format!("{:021}", 100 + i),
                event_name: "INSERT".into(),
                new_image: human_intervention::aws::dynamo::item_json(item),
                unreadable: None,
            })
            .collect()
    }
}

/// The items of intervention `id` in `table` whose sort key starts with `prefix` (`S#`, `T#`), read
/// strongly consistent through `client`.
pub async fn items_of(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
    prefix: &str,
) -> Vec<human_intervention::aws::dynamo::Item> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let output = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("I#{id}")))
        .expression_attribute_values(":s", AttributeValue::S(prefix.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("query");
    output.items().to_vec()
}

/// Counts the AWS calls of the clients it is registered on, by operation (`DynamoDB.GetItem`): one per
/// call (execution), whatever the retries, and separately every request sent (attempt).
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<std::sync::Mutex<Vec<String>>>,
    attempts: Arc<std::sync::atomic::AtomicUsize>,
}

impl CallCounter {
    /// A counter that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A DynamoDB client on `config` that reports to this counter.
    pub fn dynamodb(&self, config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(dynamodb_config(config).interceptor(self.clone()).build())
    }

    /// An SQS client on `config` that reports to this counter.
    pub fn sqs(&self, config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(config).interceptor(self.clone()).build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// An EventBridge Scheduler client on `config` that reports to this counter.
    pub fn scheduler(&self, config: &aws_config::SdkConfig) -> aws_sdk_scheduler::Client {
        let config = aws_sdk_scheduler::config::Builder::from(config).interceptor(self.clone()).build();
        aws_sdk_scheduler::Client::from_conf(config)
    }

    /// The calls since the last `take`, by operation, and the requests sent for them; starts counting anew.
    pub fn take(&self) -> (std::collections::BTreeMap<String, usize>, usize) {
        let calls = std::mem::take(&mut *self.calls.lock().expect("lock"));
        let attempts = self.attempts.swap(0, std::sync::atomic::Ordering::SeqCst);
        let mut counts = std::collections::BTreeMap::new();
        for call in calls {
            *counts.entry(call).or_insert(0) += 1;
        }
        (counts, attempts)
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per call. Not `read_before_execution`: a client's interceptors run that hook before the
    // operation's configuration (its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        self.calls.lock().expect("lock").push(operation);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

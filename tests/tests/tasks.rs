//! Step Functions natively, on the real SDK clients: DynamoDB on dynoxide (through the fault proxy, where a
//! lost reply is injected), the Scheduler and SQS on moto, and Step Functions' answers scripted at a
//! fault proxy where moto is lenient (it accepts a second answer, or one after the task timed out, where
//! AWS answers `TaskTimedOut`). Every `SendTaskSuccess` is counted on the wire. Real executions on moto's
//! interpreter are in tests/lambda (the Lambda flow).

use intervention_tests::receipts;
use std::sync::Arc;
use std::time::Duration;

use human_intervention::aws::scheduler::{EventBridgeScheduler, SchedulerTarget};
use human_intervention::aws::sfn::StepFunctionsTasks;
use human_intervention::aws::{DynamoStore, SqsQueue};
use human_intervention::domain::id::{random_id, InterventionId};
use human_intervention::domain::model::InterventionState;
use human_intervention::domain::rejection::Rejection;
use human_intervention::domain::task::{TaskAttachment, TaskStatus, TaskToken};
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::domain::token::LinkKeys;
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::{
    deliver_task, publish_outbox, AttachError, Attached, Cancellation, CreateError, CreatedLink, Outlets, Service,
    SubmitRequest, SubmitResult, View,
};
use intervention_tests::faults::{Fault, FaultProxy, Operation, Service as Aws};
use serde_json::{json, Value};

/// The functions' 4 attempts, a short first backoff.
async fn sdk_config() -> aws_config::SdkConfig {
    intervention_tests::aws::loader()
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .timeout_config(aws_config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(30)).build())
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled())
        .load()
        .await
}

fn endpoints() -> (String, String) {
    let moto = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run under tests/moto/with-moto.sh (make test does)");
    let dynamodb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok().filter(|e| !e.is_empty()).unwrap_or(moto.clone());
    (dynamodb, moto)
}

/// A fresh table, queue and schedule group; the product on them, DynamoDB and Step Functions through a
/// proxy each.
struct World {
    dynamo: FaultProxy,
    sfn: FaultProxy,
    store: Arc<DynamoStore>,
    queue: SqsQueue,
    tasks: Arc<StepFunctionsTasks>,
    scheduler: aws_sdk_scheduler::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    group: String,
    table: String,
    service: Service,
}

impl World {
    async fn new() -> Self {
        let (dynamodb_endpoint, moto) = endpoints();
        let config = sdk_config().await;
        let name = format!("hi-tasks-{}", random_id(6).expect("random").replace(['_', '-'], "x"));
        let at = |endpoint: &str| aws_sdk_dynamodb::config::Builder::from(&config).endpoint_url(endpoint).build();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(at(&dynamodb_endpoint));
        DynamoStore::new(dynamodb.clone(), &name).create_table().await.expect("table created");
        let dynamo = FaultProxy::start(Aws::DynamoDb, &dynamodb_endpoint).await;
        let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(at(&dynamo.url())), &name));
        let sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&config).endpoint_url(&moto).build());
        let url = sqs.create_queue().queue_name(&name).send().await.expect("queue").queue_url.expect("a queue URL");
        let queue = SqsQueue::new(sqs, url);
        let scheduler = aws_sdk_scheduler::Client::from_conf(
            aws_sdk_scheduler::config::Builder::from(&config).endpoint_url(&moto).build(),
        );
        let group = format!("{name}-timeouts");
        scheduler.create_schedule_group().name(&group).send().await.expect("a schedule group");
        let timers = EventBridgeScheduler::new(
            scheduler.clone(),
            SchedulerTarget {
                group: group.clone(),
                function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:timeout".into(),
                role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
                dead_letter_arn: None,
            },
        );
        let sfn = FaultProxy::start(Aws::StepFunctions, &moto).await;
        let tasks = Arc::new(StepFunctionsTasks::new(aws_sdk_sfn_client(&config, &sfn.url())));
        let keys = LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).expect("keys");
        let service = Service::new(store.clone(), Arc::new(keys), Arc::new(SystemClock), "https://links.example")
            .with_scheduler(Arc::new(timers))
            .with_tasks(tasks.clone())
            .with_receipts(std::sync::Arc::new(receipts().clone()));
        Self { dynamo, sfn, store, queue, tasks, scheduler, dynamodb, group, table: name, service }
    }

    fn outlets(&self) -> Outlets<'_> {
        Outlets {
            queue: &self.queue,
            tasks: Some(self.tasks.as_ref()),
            receipts: receipts(),
            messengers: Default::default(),
        }
    }

    /// The stream's pass (everything recorded so far) and the sweep's, as the publisher runs them.
    async fn publish(&self) -> usize {
        let now = SystemClock.now();
        publish_outbox(self.store.as_ref(), self.outlets(), now, now).await.expect("published")
    }

    async fn timers(&self) -> usize {
        let listed = self.scheduler.list_schedules().group_name(&self.group).send().await.expect("schedules");
        listed.schedules().len()
    }

    async fn intervention_items(&self) -> usize {
        let scanned = self.dynamodb.scan().table_name(&self.table).send().await.expect("scan");
        scanned.items().iter().filter(|i| i.get("sk").and_then(|s| s.as_s().ok()).is_some_and(|s| s == "I")).count()
    }

    async fn submit(&self, created: &CreatedLink, decision: &str, submission_id: &str) -> SubmitResult {
        let body = format!("decision={decision}&_submissionId={submission_id}");
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        self.service.submit(&token(created), request).await.expect("submitted")
    }

    async fn attach(&self, created: &CreatedLink, token: &str) -> Result<Attached, AttachError> {
        let attachment = TaskAttachment { intervention_id: id(created), token: TaskToken::parse(token).unwrap() };
        self.service.attach_task(&attachment).await
    }

    fn task_answers(&self) -> usize {
        self.sfn.counts(&Operation::SendTaskSuccess).received
    }
}

fn aws_sdk_sfn_client(config: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(aws_sdk_sfn::config::Builder::from(config).endpoint_url(endpoint).build())
}

fn input(key: Option<&str>, max_uses: u32) -> Value {
    let until = SystemClock.now().plus_millis(24 * 3_600_000).to_rfc3339();
    let mut value = intervention_tests::design_example(&until);
    value["maxUrlUses"] = json!(max_uses);
    if let Some(key) = key {
        value["idempotencyKey"] = json!(key);
    }
    value
}

fn id(created: &CreatedLink) -> InterventionId {
    InterventionId::parse(&created.intervention_id).expect("an id")
}

fn token(created: &CreatedLink) -> String {
    let link = serde_json::to_value(&created.context).unwrap()["approval.url"].as_str().unwrap().to_owned();
    link.rsplit('/').next().unwrap().to_owned()
}

fn accepted(result: &SubmitResult) -> bool {
    matches!(result, SubmitResult::Accepted { .. })
}

#[tokio::test]
async fn a_creation_retried_after_a_lost_reply_is_one_intervention_one_timer_one_link() {
    let w = World::new().await;
    let key =
        "arn:aws:states:eu-west-1:123456789012:execution:refund:run-1/CreateApprovalLink/2026-12-02T10:00:00.000Z";
    let body = input(Some(key), 1).to_string();
    // The first attempt's PutItem lands but its reply is lost on every one of the SDK's 4 attempts: the
    // function fails, and Step Functions retries it twice.
    w.dynamo.set(Operation::PutItem, Fault::DropResponse.times(4));
    let first = w.service.create(body.as_bytes()).await;
    assert!(matches!(first, Err(CreateError::Store(_))), "{first:?}");
    let second = w.service.create(body.as_bytes()).await.expect("the retry answers the stored intervention");
    let third = w.service.create(body.as_bytes()).await.expect("and again");
    assert_eq!(serde_json::to_value(&second).unwrap(), serde_json::to_value(&third).unwrap());
    assert_eq!(w.intervention_items().await, 1, "one intervention");
    assert_eq!(w.timers().await, 1, "one timer");
    assert_eq!(w.dynamo.counts(&Operation::PutItem).forwarded, 4, "only the first attempt wrote");
    assert!(matches!(w.service.view(&token(&second)).await.unwrap(), View::Live(_)), "the one link works");

    // The same key with another input: the named error, nothing stored or scheduled.
    let other = input(Some(key), 2).to_string();
    let refused = w.service.create(other.as_bytes()).await.unwrap_err();
    assert!(matches!(refused, CreateError::KeyReused), "{refused}");
    let diagnostic = lambda_runtime::Diagnostic::from(human_intervention::aws::lambda::InvocationError::from(refused));
    assert_eq!(diagnostic.error_type, "IdempotencyKeyReused");
    assert_eq!(w.intervention_items().await, 1);
    assert_eq!(w.timers().await, 1);
    assert_eq!(w.store.get(&id(&second)).await.unwrap().unwrap().max_uses, 1, "the stored one is unchanged");

    // Without a key a lost reply is still one intervention: the SDK's retry finds its own write.
    w.dynamo.set(Operation::PutItem, Fault::DropResponse.times(1));
    let unkeyed = w.service.create(input(None, 1).to_string().as_bytes()).await.expect("created once");
    assert_eq!(w.intervention_items().await, 2);
    assert!(w.store.get(&id(&unkeyed)).await.unwrap().is_some());
}

#[tokio::test]
async fn a_keyed_creation_racing_another_input_under_its_key_leaves_the_winners_timer_alone() {
    let w = World::new().await;
    let key = "arn:aws:states:eu-west-1:123456789012:execution:refund:run-2/CreateApprovalLink";
    let first = input(Some(key), 1).to_string();
    let mut other = input(Some(key), 1);
    other["urlExpirationHours"] = json!(2);
    let other = other.to_string();
    // The first creation's write lands first, the other's after it; the other read the key as unused.
    w.dynamo.script(
        Operation::PutItem,
        vec![Fault::Latency(Duration::from_millis(500)).times(1), Fault::Latency(Duration::from_millis(1500)).times(1)],
    );
    let winner = w.service.create(first.as_bytes());
    let loser = async {
        while w.dynamo.counts(&Operation::PutItem).received == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.service.create(other.as_bytes()).await
    };
    let (winner, loser) = tokio::join!(winner, loser);
    let winner = winner.expect("the first creation wins");
    assert!(matches!(loser, Err(CreateError::KeyReused)), "{loser:?}");
    assert_eq!(w.dynamo.counts(&Operation::PutItem).received, 2, "both tried to store");
    w.dynamo.settled(Duration::from_secs(30)).await;
    let schedule = w
        .scheduler
        .get_schedule()
        .group_name(&w.group)
        .name(id(&winner).to_string())
        .send()
        .await
        .expect("the winner's timer");
    let expires_at = human_intervention::domain::time::Timestamp::parse_rfc3339(&winner.expires_at).unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some(human_intervention::aws::scheduler::at_expression(expires_at).as_str()),
        "the timer fires at the winner's expiry"
    );
    assert_eq!(w.timers().await, 1);
    assert_eq!(w.store.get(&id(&winner)).await.unwrap().unwrap().expires_at, expires_at);
}

#[tokio::test]
async fn a_waiting_run_is_answered_once_whatever_publishes_again_at_the_same_time() {
    let w = World::new().await;
    w.sfn.set(Operation::SendTaskHeartbeat, Fault::TaskTaken.always());
    w.sfn.set(Operation::SendTaskSuccess, Fault::TaskTaken.always());
    let created = w.service.create(input(None, 1).to_string().as_bytes()).await.unwrap();
    assert_eq!(w.attach(&created, "token-of-the-wait-step").await.unwrap(), Attached::Waiting);
    assert!(accepted(&w.submit(&created, "approve", "s1").await));
    // The stream, its retry and the sweep at once, each with the continuation.
    let continuation = w.store.continuations(&id(&created)).await.unwrap().remove(0);
    let now = SystemClock.now();
    let attempts = (0..8).map(|_| deliver_task(w.store.as_ref(), w.tasks.as_ref(), receipts(), &continuation, now));
    let deliveries = futures::future::join_all(attempts).await;
    assert_eq!(
        deliveries.iter().filter(|d| matches!(d, Ok(human_intervention::service::Delivery::Delivered))).count(),
        1
    );
    assert_eq!(w.publish().await, 1);
    assert_eq!(w.publish().await, 0);
    assert_eq!(w.task_answers(), 1, "exactly one SendTaskSuccess");
    let stored = w.store.get(&id(&created)).await.unwrap().unwrap();
    assert!(matches!(stored.task, TaskStatus::Delivered { .. }), "{:?}", stored.task);
    let items = intervention_tests::aws::items_of(&w.dynamodb, &w.table, &id(&created).to_string(), "I").await;
    let intervention =
        items.iter().find(|i| i.get("sk").and_then(|s| s.as_s().ok()).is_some_and(|s| s == "I")).unwrap();
    assert!(!intervention.contains_key("taskToken"), "the secret is removed once answered");
}

#[tokio::test]
async fn a_decision_recorded_before_the_token_is_delivered_once_on_attach() {
    let w = World::new().await;
    w.sfn.set(Operation::SendTaskHeartbeat, Fault::TaskTaken.always());
    w.sfn.set(Operation::SendTaskSuccess, Fault::TaskTaken.always());
    let created = w.service.create(input(None, 1).to_string().as_bytes()).await.unwrap();
    assert!(accepted(&w.submit(&created, "reject", "early").await));
    assert_eq!(w.publish().await, 1);
    assert_eq!(w.task_answers(), 0, "no run waited yet");
    assert_eq!(w.attach(&created, "late-token").await.unwrap(), Attached::Delivered);
    assert_eq!(w.task_answers(), 1);
    assert_eq!(w.publish().await, 0);
    assert!(matches!(w.attach(&created, "a-later-attempt").await, Err(AttachError::AlreadyDelivered)));
    assert_eq!(w.task_answers(), 1, "delivered once, on attach");
}

#[tokio::test]
async fn a_task_that_timed_out_marks_the_run_gone_its_link_expired_and_is_never_retried() {
    let w = World::new().await;
    w.sfn.set(Operation::SendTaskHeartbeat, Fault::TaskTaken.always());
    w.sfn.set(Operation::SendTaskSuccess, Fault::TaskRefused("TaskTimedOut").always());
    let created = w.service.create(input(None, 2).to_string().as_bytes()).await.unwrap();
    w.attach(&created, "token-past-its-timeout").await.unwrap();
    assert!(accepted(&w.submit(&created, "approve", "a").await));
    assert_eq!(w.publish().await, 1, "the queue still gets the continuation");
    assert_eq!(w.publish().await, 0);
    assert_eq!(w.task_answers(), 1, "one attempt, no retry loop");
    let record = serde_json::to_value(w.service.record(&id(&created)).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["task"]["state"], json!("gone"));
    assert_eq!(record["task"]["reason"], json!("TaskTimedOut"));
    assert!(!record.to_string().contains("token-past-its-timeout"), "the token is never in a record");
    // One use of two is left, but the run is gone.
    assert!(matches!(w.submit(&created, "approve", "b").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(matches!(w.service.view(&token(&created)).await.unwrap(), View::Rejected(Rejection::Expired)));
    // A refused heartbeat is refused by name at attach, and nothing is stored.
    let fresh = w.service.create(input(None, 1).to_string().as_bytes()).await.unwrap();
    w.sfn.set(Operation::SendTaskHeartbeat, Fault::TaskRefused("InvalidToken").always());
    assert!(matches!(w.attach(&fresh, "made-up").await, Err(AttachError::TokenRefused(_, "InvalidToken"))));
    assert_eq!(w.store.get(&id(&fresh)).await.unwrap().unwrap().task, TaskStatus::None);
}

#[tokio::test]
async fn an_answer_taken_but_its_reply_lost_then_refused_on_the_next_try_is_unconfirmed_never_gone() {
    let w = World::new().await;
    w.sfn.set(Operation::SendTaskHeartbeat, Fault::TaskTaken.always());
    // Step Functions applies the first answer and its reply is lost; the next is refused as answered.
    w.sfn.script(
        Operation::SendTaskSuccess,
        vec![Fault::DropResponse.times(1), Fault::TaskRefused("TaskTimedOut").always()],
    );
    let created = w.service.create(input(None, 2).to_string().as_bytes()).await.unwrap();
    w.attach(&created, "token-of-the-wait-step").await.unwrap();
    assert!(accepted(&w.submit(&created, "approve", "a").await));
    assert_eq!(w.publish().await, 0, "an unconfirmed answer stays in the outbox for another try");
    assert_eq!(w.task_answers(), 1, "one attempt: the SDK does not retry the answer");
    let record = serde_json::to_value(w.service.record(&id(&created)).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["task"]["state"], json!("unconfirmed"), "{record}");
    // The sweep's try (its claim is free: the first was let go) meets the refusal.
    assert_eq!(w.publish().await, 1);
    assert_eq!(w.publish().await, 0);
    assert_eq!(w.task_answers(), 2, "exactly two SendTaskSuccess on the wire");
    let record = serde_json::to_value(w.service.record(&id(&created)).await.unwrap().unwrap()).unwrap();
    assert_eq!(record["task"]["state"], json!("unconfirmed"), "never gone: {record}");
    assert_eq!(record["task"]["continuationId"], json!(format!("{}:a", id(&created))));
    assert!(record["task"].get("reason").is_none(), "{record}");
    // The links do not close: the second use is still there, and answering it asks nothing more of the run.
    assert!(matches!(w.service.view(&token(&created)).await.unwrap(), View::Live(_)));
    assert!(accepted(&w.submit(&created, "approve", "b").await));
    assert!(matches!(w.submit(&created, "approve", "c").await, SubmitResult::Rejected(Rejection::UsedUp)));
    assert_eq!(w.publish().await, 1);
    assert_eq!(w.task_answers(), 2, "the ended delivery is not tried again");
    let items = intervention_tests::aws::items_of(&w.dynamodb, &w.table, &id(&created).to_string(), "I").await;
    let intervention =
        items.iter().find(|i| i.get("sk").and_then(|s| s.as_s().ok()).is_some_and(|s| s == "I")).unwrap();
    assert!(!intervention.contains_key("taskToken"), "the secret is removed once the delivery ended");
}

#[tokio::test]
async fn cancel_tells_the_truth_on_dynamodb_and_an_ended_execution_cancels_only_its_pending_links() {
    let w = World::new().await;
    let run = format!("arn:aws:states:eu-west-1:123456789012:execution:refund:{}", random_id(6).unwrap());
    let of_run = |max_uses| {
        let mut value = input(None, max_uses);
        value["correlationId"] = json!(run);
        value.to_string()
    };
    let answered = w.service.create(of_run(1).as_bytes()).await.unwrap();
    let pending = w.service.create(of_run(1).as_bytes()).await.unwrap();
    let other = w.service.create(input(None, 1).to_string().as_bytes()).await.unwrap();
    assert!(accepted(&w.submit(&answered, "approve", "s1").await));
    assert_eq!(
        w.service.cancel(&id(&answered)).await.unwrap(),
        Cancellation::TooLate {
            state: InterventionState::Completed,
            continuation_ids: vec![format!("{}:s1", id(&answered))]
        }
    );
    let mut ended = w.service.cancel_run(&run).await.unwrap();
    ended.sort_by_key(|(i, _)| i.to_string());
    let mut expected = vec![
        (id(&pending), Cancellation::Cancelled),
        (
            id(&answered),
            Cancellation::TooLate {
                state: InterventionState::Completed,
                continuation_ids: vec![format!("{}:s1", id(&answered))],
            },
        ),
    ];
    expected.sort_by_key(|(i, _)| i.to_string());
    assert_eq!(ended, expected);
    assert!(matches!(w.submit(&pending, "approve", "x").await, SubmitResult::Rejected(Rejection::Expired)));
    assert!(w.store.continuations(&id(&pending)).await.unwrap().is_empty(), "nothing is ever queued");
    assert_eq!(w.timers().await, 1, "the cancelled link's timer is gone; the other pending one keeps its own");
    assert!(w.store.get(&id(&other)).await.unwrap().unwrap().cancelled_at.is_none());
    let record = w.service.record(&id(&answered)).await.unwrap().unwrap();
    assert_eq!(record.state, InterventionState::Completed, "the record keeps its real state");
}

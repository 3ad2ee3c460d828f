//! How many AWS calls each operation costs, counted by an SDK interceptor on the real DynamoDB, SQS and
//! EventBridge Scheduler clients against moto (`make aws-test`). The budgets are the design's: a page view
//! is one read, a submission one read and one transaction, a forged or expired link costs nothing, and a
//! publisher batch of up to ten continuations is one SQS send (plus one update per continuation to mark it
//! published, and one read per intervention to learn whether a run waits on it). With timeouts on, creating a link also makes its timer and the first accepted submission
//! removes it: one Scheduler call each, budgeted as such.
//! A test fails when an operation makes a call beyond its budget; every count is printed
//! (`-- --nocapture`; `make bench` shows them in its table).

use intervention_tests::receipts;
use std::collections::BTreeMap;
use std::sync::Arc;

use human_intervention::aws::scheduler::{EventBridgeScheduler, SchedulerTarget};
use human_intervention::aws::stream::publish_records;
use human_intervention::aws::{DynamoStore, SqsQueue};
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::service::{Cancellation, Outlets, Service, SubmitRequest, SubmitResult, View};
use intervention_tests::aws::{AwsFixture, CallCounter};
use intervention_tests::example;

const BASE_URL: &str = "https://links.example.com";
/// Submissions made, then published as one stream batch (SQS's batch limit is ten).
const SUBMISSIONS: usize = 10;

/// Checks one operation's calls against its budget (operation → most calls) and, if `print`, prints them.
fn check(operation: &str, (calls, attempts): (BTreeMap<String, usize>, usize), budget: &[(&str, usize)], print: bool) {
    if print {
        let shown: Vec<String> = calls.iter().map(|(name, n)| format!("{name}={n}")).collect();
        let budget_shown: Vec<String> = budget.iter().map(|(name, n)| format!("{name}={n}")).collect();
        println!(
            "ROUND_TRIPS {operation}: calls={} requests={attempts} [{}] budget [{}]",
            calls.values().sum::<usize>(),
            shown.join(" "),
            budget_shown.join(" ")
        );
    }
    for (name, n) in &calls {
        let allowed = budget.iter().find(|(b, _)| b == name).map(|(_, n)| *n).unwrap_or(0);
        assert!(
            *n <= allowed,
            "{operation}: {n} × {name}, budget {allowed} (all calls: {calls:?}); an operation's round trips grew"
        );
    }
}

fn submission(body: &str) -> SubmitRequest<'_> {
    SubmitRequest {
        content_type: Some("application/x-www-form-urlencoded"),
        idempotency_key: None,
        body: body.as_bytes(),
    }
}

/// The same token with its last character changed: a forged MAC.
fn forged(token: &str) -> String {
    let mut forged = token.to_owned();
    let last = forged.pop().expect("a token");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    forged
}

/// One link's whole life through counted clients: with `timeouts`, the input has `onTimeout` and the
/// service makes its timers on moto's EventBridge Scheduler.
async fn round_trips(timeouts: bool) {
    let label = if timeouts { "with timeouts" } else { "no timeouts" };
    let fixture = AwsFixture::new(false).await;
    let counter = CallCounter::new();
    let store = Arc::new(DynamoStore::new(counter.dynamodb(&fixture.config), fixture.store.table()));
    let queue = SqsQueue::new(counter.sqs(&fixture.config), fixture.queue.url());
    let keys = Arc::new(LinkKeys::new(LinkKey::random("rt").expect("key"), vec![]).expect("keys"));
    let mut service = Service::new(store.clone(), keys.clone(), Arc::new(SystemClock), BASE_URL);
    let mut input = example();
    input["maxUrlUses"] = serde_json::json!(SUBMISSIONS + 5);
    let timer: &[(&str, usize)] = if timeouts {
        let group = format!("{}-timeouts", fixture.store.table());
        let client = aws_sdk_scheduler::Client::new(&fixture.config);
        client.create_schedule_group().name(&group).send().await.expect("a schedule group");
        let target = SchedulerTarget {
            group,
            function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:timeout".into(),
            role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
            dead_letter_arn: None,
        };
        let scheduler = EventBridgeScheduler::new(counter.scheduler(&fixture.config), target);
        service = service.with_scheduler(Arc::new(scheduler));
        &[("Scheduler.CreateSchedule", 1), ("Scheduler.DeleteSchedule", 1)]
    } else {
        input.as_object_mut().expect("an object").remove("onTimeout");
        &[]
    };
    let with_timer = |budget: &[(&'static str, usize)], timer_call: &str| -> Vec<(&'static str, usize)> {
        let mut budget = budget.to_vec();
        budget.extend(timer.iter().filter(|(name, _)| *name == timer_call).copied());
        budget
    };

    let created = service.create(input.to_string().as_bytes()).await.expect("created");
    check(
        &format!("create ({label})"),
        counter.take(),
        &with_timer(&[("DynamoDB.PutItem", 1)], "Scheduler.CreateSchedule"),
        true,
    );
    // With an idempotency key: one read first (a retry's only call), then the same writes.
    let mut keyed = input.clone();
    keyed["idempotencyKey"] = serde_json::json!(format!("round-trips/{label}"));
    let first = service.create(keyed.to_string().as_bytes()).await.expect("created with a key");
    let budget = with_timer(&[("DynamoDB.GetItem", 1), ("DynamoDB.PutItem", 1)], "Scheduler.CreateSchedule");
    check(&format!("create with an idempotency key ({label})"), counter.take(), &budget, true);
    let retried = service.create(keyed.to_string().as_bytes()).await.expect("the retry");
    assert_eq!(retried.intervention_id, first.intervention_id, "a retry is the same intervention");
    // A pending intervention's retry sets its timer again at the stored time (a creation that stored it and
    // failed before its timer was set is made whole): the schedule exists, so CreateSchedule meets
    // ConflictException and UpdateSchedule writes the same time.
    let mut budget = with_timer(&[("DynamoDB.GetItem", 1)], "Scheduler.CreateSchedule");
    if !timer.is_empty() {
        budget.push(("Scheduler.UpdateSchedule", 1));
    }
    check(&format!("a retried creation ({label})"), counter.take(), &budget, true);
    let context = serde_json::to_value(&created.context).expect("context");
    let link = context["approval.url"].as_str().expect("a link");
    let token = link.strip_prefix(&format!("{BASE_URL}/i/")).expect("under the base URL").to_owned();

    let view = service.view(&token).await.expect("view");
    assert!(matches!(view, View::Live(_)), "the link is live");
    check(&format!("view ({label})"), counter.take(), &[("DynamoDB.GetItem", 1)], true);

    let view = service.view(&forged(&token)).await.expect("view");
    assert!(matches!(view, View::Rejected(_)), "a forged link is refused");
    let body = "decision=approve&refund.amount=100&note=ok&_submissionId=forged-1";
    let result = service.submit(&forged(&token), submission(body)).await.expect("submit");
    assert!(matches!(result, SubmitResult::Rejected(_)), "a forged link is refused");
    check(&format!("forged link, view + submit ({label})"), counter.take(), &[], true);

    let id = InterventionId::parse(&created.intervention_id).expect("an id");
    let expired = keys.sign(&id, SystemClock.now().plus_millis(-1_000));
    let view = service.view(&expired).await.expect("view");
    assert!(matches!(view, View::Rejected(_)), "an expired link is refused");
    check(&format!("expired link, view ({label})"), counter.take(), &[], true);

    for i in 0..SUBMISSIONS {
        let body = format!("decision=approve&refund.amount=100&note=ok&_submissionId=round-trip-{i}");
        let result = service.submit(&token, submission(&body)).await.expect("submit");
        assert!(matches!(result, SubmitResult::Accepted { .. }), "submission {i} is accepted");
        let budget = [("DynamoDB.GetItem", 1), ("DynamoDB.TransactWriteItems", 1)];
        if i == 0 {
            let budget = with_timer(&budget, "Scheduler.DeleteSchedule");
            check(&format!("first submission ({label})"), counter.take(), &budget, true);
        } else {
            check(&format!("later submission ({label})"), counter.take(), &budget, i == 1);
        }
    }

    let records = fixture.submission_records(&created.intervention_id).await;
    assert_eq!(records.len(), SUBMISSIONS, "every submission is a stream record");
    // The publisher as deployed, with Step Functions: no run waits on this intervention, which one read
    // per intervention in the batch finds out.
    let tasks = human_intervention::aws::sfn::StepFunctionsTasks::new(aws_sdk_sfn::Client::new(&fixture.config));
    let outlets = Outlets { queue: &queue, tasks: Some(&tasks), receipts: receipts(), messengers: Default::default() };
    assert_eq!(publish_records(&records, outlets, store.as_ref(), SystemClock.now()).await, None, "all published");
    check(
        &format!("publish {SUBMISSIONS} continuations ({label})"),
        counter.take(),
        &[("SQS.SendMessageBatch", 1), ("DynamoDB.GetItem", 1), ("DynamoDB.UpdateItem", SUBMISSIONS)],
        true,
    );
    assert_eq!(fixture.drain().await.len(), SUBMISSIONS, "every continuation is on the queue");

    // A cancel reads the intervention first (its decision log entry follows the head read), then writes
    // the cancel and its entry in one transaction.
    let pending = service.create(input.to_string().as_bytes()).await.expect("created");
    counter.take();
    let pending = InterventionId::parse(&pending.intervention_id).expect("an id");
    assert_eq!(service.cancel(&pending).await.expect("cancel"), Cancellation::Cancelled);
    let budget = with_timer(&[("DynamoDB.GetItem", 1), ("DynamoDB.TransactWriteItems", 1)], "Scheduler.DeleteSchedule");
    check(&format!("cancel ({label})"), counter.take(), &budget, true);
}

#[tokio::test]
async fn without_timeouts_each_operation_stays_within_its_round_trips() {
    round_trips(false).await;
}

#[tokio::test]
async fn with_timeouts_each_operation_stays_within_its_round_trips() {
    round_trips(true).await;
}

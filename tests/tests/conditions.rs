//! Every lifecycle guard's DynamoDB translation (`aws::dynamo::conditions::condition`) pinned against its
//! Rust evaluation (`Guard::holds`) on the same items, on dynoxide: items in many states are made by the
//! real service, then each guard (at instants and values either side of each boundary) is evaluated in
//! Rust on the item as read and sent as the condition of a harmless UpdateItem; the two must agree.

use intervention_tests::receipts;
use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use human_intervention::aws::dynamo::conditions::condition;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::lifecycle::{self, Guard};
use human_intervention::domain::model::{Intervention, Tally};
use human_intervention::domain::task::{TaskAttachment, TaskStatus, TaskToken, TASK_CLAIM_MILLIS};
use human_intervention::domain::time::{Clock, ManualClock, Timestamp};
use human_intervention::domain::token::LinkKeys;
use human_intervention::memory::{MemoryQueue, MemoryScheduler, MemoryTasks};
use human_intervention::ports::store::{InterventionStore, ReminderOutcome, TimeoutOutcome};
use human_intervention::service::{publish_outbox, Cancellation, Outlets, Service, SubmitRequest, SubmitResult};
use intervention_tests::aws::AwsFixture;
use serde_json::{json, Value};

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").expect("an instant")
}

struct World {
    f: AwsFixture,
    clock: Arc<ManualClock>,
    tasks: Arc<MemoryTasks>,
    service: Service,
}

fn input(max_uses: u32) -> Value {
    let mut input = intervention_tests::design_example("2026-11-26T10:00:00Z");
    input["maxUrlUses"] = json!(max_uses);
    input
}

fn reviewers(mut input: Value, n: usize, quorum: Option<usize>, remind: bool) -> Value {
    input["reviewers"] =
        (0..n).map(|i| json!({"id": format!("r{i}"), "name": format!("Reviewer {i}")})).collect::<Value>();
    input.as_object_mut().expect("an object").remove("maxUrlUses");
    if let Some(approvals) = quorum {
        input["quorum"] =
            json!({"approvals": approvals, "field": "decision", "approve": "approve", "reject": "reject"});
    }
    if remind {
        let to: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        input["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
    }
    input
}

impl World {
    async fn new() -> Self {
        let f = AwsFixture::new(false).await;
        let clock = Arc::new(ManualClock::new(start()));
        let tasks = Arc::new(MemoryTasks::new());
        let keys = LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).expect("keys");
        let service = Service::new(f.store.clone(), Arc::new(keys), clock.clone(), "https://l.example")
            .with_scheduler(Arc::new(MemoryScheduler::new()))
            .with_tasks(tasks.clone())
            .with_receipts(std::sync::Arc::new(receipts().clone()));
        Self { f, clock, tasks, service }
    }

    /// Creates an intervention: its id and its links (by reviewer id; `""` for the one link).
    async fn create(&self, input: &Value) -> (InterventionId, BTreeMap<String, String>) {
        let created = self.service.create(input.to_string().as_bytes()).await.expect("created");
        let at = &created.context["approval.url"];
        let links = match at.as_object() {
            Some(links) => links.iter().map(|(r, l)| (r.clone(), l.as_str().expect("a link").to_owned())).collect(),
            None => BTreeMap::from([(String::new(), at.as_str().expect("a link").to_owned())]),
        };
        (InterventionId::parse(&created.intervention_id).expect("an id"), links)
    }

    async fn post(&self, link: &str, body: &str) {
        let token = link.rsplit('/').next().expect("a token");
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        let result = self.service.submit(token, request).await.expect("an answer");
        assert!(matches!(result, SubmitResult::Accepted { .. }), "{result:?}");
    }

    async fn attach(&self, id: InterventionId, token: &str) {
        self.tasks.issue(token);
        let attachment = TaskAttachment { intervention_id: id, token: TaskToken::parse(token).expect("a token") };
        self.service.attach_task(&attachment).await.expect("attached");
    }

    async fn publish(&self) {
        let queue = MemoryQueue::new();
        let outlets = Outlets {
            queue: &queue,
            tasks: Some(self.tasks.as_ref()),
            receipts: receipts(),
            messengers: Default::default(),
        };
        let now = self.clock.now();
        publish_outbox(self.f.store.as_ref(), outlets, now, now).await.expect("published");
    }

    async fn stored(&self, id: &InterventionId) -> Intervention {
        self.f.store.get(id).await.expect("read").expect("stored")
    }

    /// Whether DynamoDB applies an update under `guard` to the intervention's item.
    async fn holds_on_dynamodb(&self, id: &InterventionId, guard: &Guard) -> bool {
        let expression = condition(std::slice::from_ref(guard));
        let mut values = expression.values.clone();
        // Never a `:g…` placeholder: no collision with the condition's values.
        values.insert(":pinProbe".into(), AttributeValue::N("1".into()));
        let result = self
            .f
            .dynamodb
            .update_item()
            .table_name(self.f.store.table())
            .key("pk", AttributeValue::S(format!("I#{id}")))
            .key("sk", AttributeValue::S("I".into()))
            .update_expression("SET pinProbe = :pinProbe")
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => true,
            Err(error) => {
                let error = error.into_service_error();
                assert!(error.is_conditional_check_failed_exception(), "{guard:?}: {error:?}");
                false
            }
        }
    }
}

/// The guards to try on `i`: each variant, at instants and values either side of its boundaries.
fn guards(i: &Intervention, tokens: &[&str]) -> Vec<Guard> {
    let mut instants = vec![start()];
    for edge in [i.expires_at, i.run_available_until, start().plus_millis(TASK_CLAIM_MILLIS)] {
        instants.extend([edge.plus_millis(-1), edge, edge.plus_millis(1)]);
    }
    if let TaskStatus::Waiting { claimed_at: Some(at), .. } = &i.task {
        let free = at.plus_millis(TASK_CLAIM_MILLIS);
        instants.extend([free.plus_millis(-1), free, free.plus_millis(1)]);
    }
    let mut all = vec![
        Guard::NotCancelled,
        Guard::NotTimedOut,
        Guard::RunNotGone,
        Guard::UsesLeft,
        Guard::Undecided,
        Guard::Unanswered,
        Guard::NotReminded,
        Guard::NotDelivered,
        Guard::TaskWaiting,
    ];
    for at in instants {
        all.extend([
            Guard::LinkLiveAt(at),
            Guard::LinkExpiredAt(at),
            Guard::RunAvailableAt(at),
            Guard::ClaimFreeAt(at),
        ]);
    }
    all.extend((0..3).map(Guard::UsesAre));
    all.extend((0..3).map(Guard::ReviewerAbsent));
    // On every item: one without a quorum has no tally attributes and reads back as 0 and 0.
    let other = Tally { approvals: i.tally.approvals + 1, rejections: i.tally.rejections };
    all.extend([Guard::TallyIs(i.tally), Guard::TallyIs(other), Guard::TallyIs(Tally::default())]);
    all.extend(tokens.iter().map(|t| Guard::TokenIs(TaskToken::parse(t).expect("a token"))));
    all.extend([None, Some(0), Some(1), Some(2)].map(Guard::LogHeadIs));
    let mut unique = Vec::new();
    for guard in all {
        if !unique.contains(&guard) {
            unique.push(guard);
        }
    }
    unique
}

/// The variant's name, to count the pairs checked per variant.
fn variant(guard: &Guard) -> String {
    let text = format!("{guard:?}");
    text.split('(').next().unwrap_or(&text).to_owned()
}

#[tokio::test]
async fn every_guard_holds_on_dynamodb_exactly_when_it_holds_in_rust() {
    let w = World::new().await;
    let mut items: Vec<(&str, InterventionId)> = Vec::new();

    let (fresh, _) = w.create(&input(2)).await;
    items.push(("fresh", fresh));
    let (one_use, links) = w.create(&input(2)).await;
    w.post(&links[""], "decision=approve&_submissionId=s1").await;
    items.push(("one use taken", one_use));
    let (used_up, links) = w.create(&input(1)).await;
    w.post(&links[""], "decision=reject&_submissionId=s1").await;
    items.push(("used up", used_up));
    let (cancelled, _) = w.create(&input(1)).await;
    assert_eq!(w.service.cancel(&cancelled).await.expect("cancel"), Cancellation::Cancelled);
    items.push(("cancelled", cancelled));
    let (timed_out, _) = w.create(&input(1)).await;
    items.push(("timed out", timed_out));
    let (reminded, links) = w.create(&reviewers(input(1), 2, None, true)).await;
    w.post(&links["r0"], "decision=approve&_submissionId=s1").await;
    items.push(("reminded, one reviewer answered", reminded));
    let (named, links) = w.create(&reviewers(input(1), 3, None, false)).await;
    w.post(&links["r1"], "decision=approve&_submissionId=s1").await;
    items.push(("named reviewers, one answered", named));
    let (undecided, _) = w.create(&reviewers(input(1), 3, Some(2), false)).await;
    items.push(("quorum, no vote", undecided));
    let (tally, links) = w.create(&reviewers(input(1), 3, Some(2), false)).await;
    w.post(&links["r0"], "decision=approve&_submissionId=v0").await;
    w.post(&links["r2"], "decision=reject&_submissionId=v2").await;
    items.push(("quorum with a tally", tally));
    let (decided, links) = w.create(&reviewers(input(1), 3, Some(2), false)).await;
    w.post(&links["r0"], "decision=approve&_submissionId=v0").await;
    w.post(&links["r1"], "decision=approve&_submissionId=v1").await;
    items.push(("quorum decided", decided));
    let (attached, _) = w.create(&input(1)).await;
    w.attach(attached, "tok-attached").await;
    items.push(("token attached", attached));
    let (claimed, _) = w.create(&input(1)).await;
    w.attach(claimed, "tok-claimed").await;
    let token = w.f.store.claim_task(&claimed, &lifecycle::claim(start())).await.expect("claim");
    assert!(token.is_some(), "claimed");
    items.push(("token claimed", claimed));
    let (delivered, links) = w.create(&input(1)).await;
    w.attach(delivered, "tok-delivered").await;
    w.post(&links[""], "decision=approve&_submissionId=s1").await;
    let (gone, links) = w.create(&input(1)).await;
    w.attach(gone, "tok-gone").await;
    w.tasks.time_out("tok-gone");
    w.post(&links[""], "decision=approve&_submissionId=s1").await;
    w.publish().await;
    items.push(("delivered", delivered));
    items.push(("run gone", gone));

    w.clock.set(start().plus_millis(1_800_000));
    assert_eq!(w.service.fire_reminder(&reminded).await.expect("reminder"), ReminderOutcome::Queued);
    w.clock.set(start().plus_millis(3_600_000));
    assert_eq!(w.service.fire_timeout(&timed_out).await.expect("timeout"), TimeoutOutcome::Queued);

    let tokens = ["tok-attached", "tok-claimed", "tok-delivered", "tok-gone", "tok-other"];
    let mut per_variant: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut pairs, mut disagree) = (0, Vec::new());
    for (name, id) in &items {
        let stored = w.stored(id).await;
        for guard in guards(&stored, &tokens) {
            let in_rust = guard.holds(&stored);
            let on_dynamodb = w.holds_on_dynamodb(id, &guard).await;
            if on_dynamodb != in_rust {
                disagree.push(format!("{guard:?} on the item {name}: Rust {in_rust}, DynamoDB {on_dynamodb}"));
            }
            let counts = per_variant.entry(variant(&guard)).or_default();
            counts.0 += 1;
            counts.1 += usize::from(in_rust);
            pairs += 1;
        }
    }
    assert!(disagree.is_empty(), "{} of {pairs} pairs disagree:\n{}", disagree.len(), disagree.join("\n"));
    // Each variant was seen both holding and failing: otherwise its translation was not pinned.
    for (variant, (checked, held)) in &per_variant {
        assert!(*held > 0 && held < checked, "{variant}: held on {held} of {checked}");
    }
    eprintln!(
        "{pairs} (guard, item) pairs agree on {} items; per variant (checked, held): {per_variant:?}",
        items.len()
    );
}

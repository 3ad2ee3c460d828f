//! A stateful property test of the intervention's contract: random sequences of operations (create, view,
//! submit, repeat, vote, advance the clock, fire the timeout and the reminder, cancel, attach a waiting
//! run's token, the run timing out, Step Functions throttling, publish and sweep with the queue failing)
//! run through the real `Service` and outbox publisher on a store the caller gives, beside a plain model
//! of the contract that predicts each answer; the stored state and the invariants are checked after
//! every step. Included by `shared/tests/model.rs` (memory store) and `tests/tests/model.rs` (dynoxide).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use human_intervention::domain::continuation::{Continuation, Outcome, MAX_MESSAGE_BYTES};
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::ledger::{export_lines, verify, Checkpoint, Entry, EntryKind};
use human_intervention::domain::proof::receipt;
use human_intervention::domain::task::{TaskAttachment, TaskStatus, TaskToken};
use human_intervention::domain::time::{Clock, ManualClock, Timestamp};
use human_intervention::domain::token::LinkKeys;
use human_intervention::memory::{MemoryQueue, MemoryScheduler, MemoryTasks};
use human_intervention::ports::queue::{ContinuationQueue, QueueError, Refused};
use human_intervention::ports::receipts::ReceiptSigner;
use human_intervention::ports::store::{InterventionStore, ReminderOutcome, TimeoutOutcome};
use human_intervention::service::{
    publish_outbox, AttachError, Cancellation, CreateError, Outlets, Service, SubmitRequest, SubmitResult, View,
    SWEEP_AFTER_MILLIS,
};
use proptest::prelude::*;
use serde_json::{json, Value};

pub const START: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z
const HOUR: i64 = 3_600_000;

/// The kinds of intervention created.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// One link, this many uses (1 to 3).
    Uses(u32),
    /// This many named reviewers (2 or 3), one submission each.
    Named(usize),
    /// Three reviewers, two approvals decide.
    Quorum,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        kind: Kind,
        on_timeout: bool,
        remind: bool,
        key: Option<u8>,
    },
    View {
        at: usize,
        reviewer: usize,
    },
    Submit {
        at: usize,
        reviewer: usize,
        approve: bool,
    },
    /// The same body again on the same link (an earlier submission, accepted or not).
    Repeat {
        earlier: usize,
    },
    Advance(i64),
    FireTimeout(usize),
    FireReminder(usize),
    Cancel(usize),
    Attach(usize),
    /// The waiting run's task times out at Step Functions (its token is refused from then on).
    RunTimesOut(usize),
    /// Step Functions throttles the next calls.
    Throttle(usize),
    Publish {
        queue_down: bool,
        sweep: bool,
    },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![(1u32..=3).prop_map(Kind::Uses), (2usize..=3).prop_map(Kind::Named), Just(Kind::Quorum)]
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly the latest intervention: deep interleavings on one, not shallow ones on many.
    let at = prop_oneof![4 => Just(0usize), 1 => 0usize..6];
    prop_oneof![
        3 => (kind(), any::<bool>(), any::<bool>(), proptest::option::weighted(0.3, 0u8..2))
            .prop_map(|(kind, on_timeout, remind, key)| Op::Create { kind, on_timeout, remind, key }),
        1 => (at.clone(), 0usize..3).prop_map(|(at, reviewer)| Op::View { at, reviewer }),
        6 => (at.clone(), 0usize..3, any::<bool>()).prop_map(|(at, reviewer, approve)| Op::Submit { at, reviewer, approve }),
        1 => (0usize..12).prop_map(|earlier| Op::Repeat { earlier }),
        3 => prop_oneof![Just(1i64), Just(60_000), Just(HOUR / 4), Just(HOUR / 2), Just(HOUR)].prop_map(Op::Advance),
        1 => at.clone().prop_map(Op::FireTimeout),
        1 => at.clone().prop_map(Op::FireReminder),
        1 => at.clone().prop_map(Op::Cancel),
        2 => at.clone().prop_map(Op::Attach),
        2 => at.clone().prop_map(Op::RunTimesOut),
        1 => (1usize..3).prop_map(Op::Throttle),
        3 => (proptest::bool::weighted(0.25), any::<bool>()).prop_map(|(queue_down, sweep)| Op::Publish { queue_down, sweep }),
    ]
}

/// Sequences of 1 to 40 steps.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..40)
}

/// A queue in memory that can be down.
#[derive(Default)]
struct FlakyQueue {
    inner: MemoryQueue,
    down: AtomicBool,
}

#[async_trait::async_trait]
impl ContinuationQueue for FlakyQueue {
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<Vec<Refused>, QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(QueueError("injected: the queue is down".into()));
        }
        self.inner.send_batch(continuations).await
    }
}

/// What the contract says of one intervention.
#[derive(Debug)]
struct Model {
    id: InterventionId,
    /// Links by reviewer index (the one link at 0 without reviewers).
    links: Vec<String>,
    kind: Kind,
    create_input: String,
    max_uses: u32,
    on_timeout: bool,
    remind_at: Option<Timestamp>,
    expires_at: Timestamp,
    run_until: Timestamp,
    uses: u32,
    reviewed: Vec<usize>,
    approvals: u32,
    rejections: u32,
    decided: bool,
    timed_out: bool,
    /// The continuations recorded when the cancel succeeded.
    cancelled: Option<usize>,
    reminded: bool,
    first_answer: Option<String>,
    tokens: Vec<String>,
    /// Observed from the store after the steps that may change it (the run's answers are Step Functions').
    gone: bool,
    delivered: bool,
}

impl Model {
    fn quorum(&self) -> bool {
        matches!(self.kind, Kind::Quorum)
    }

    fn reviewers(&self) -> usize {
        match self.kind {
            Kind::Uses(_) => 0,
            Kind::Named(n) => n,
            Kind::Quorum => 3,
        }
    }

    fn answered(&self) -> bool {
        if self.quorum() {
            self.decided
        } else {
            self.uses > 0
        }
    }

    /// Whether a new submission through `reviewer`'s link is accepted at `now`.
    fn takes(&self, reviewer: Option<usize>, now: Timestamp) -> bool {
        self.cancelled.is_none()
            && !self.timed_out
            && !self.gone
            && !self.decided
            && now < self.expires_at
            && now < self.run_until
            && self.uses < self.max_uses
            && reviewer.is_none_or(|r| !self.reviewed.contains(&r))
    }

    fn pending(&self) -> Vec<usize> {
        (0..self.reviewers()).filter(|r| !self.reviewed.contains(r)).collect()
    }
}

struct World {
    service: Service,
    store: Arc<dyn InterventionStore>,
    clock: Arc<ManualClock>,
    tasks: Arc<MemoryTasks>,
    queue: FlakyQueue,
    models: Vec<Model>,
    /// Submissions accepted: (intervention, link, body).
    posted: Vec<(usize, String, String)>,
    keys: Vec<(u8, usize)>,
    next: usize,
    /// This sequence's, in its idempotency keys and submission ids: DynamoDB keeps a ClientRequestToken
    /// (made from them and the instant) for ten minutes across tables, and every sequence starts at START.
    tag: usize,
}

fn input(kind: Kind, on_timeout: bool, remind: bool, key: Option<String>) -> Value {
    let mut input: Value =
        serde_json::from_str(include_str!("../../../docs/examples/link-creation-input.json")).expect("the example");
    input["runAvailableUntil"] = json!("2026-11-28T10:00:00Z");
    let object = input.as_object_mut().expect("an object");
    if !on_timeout {
        object.remove("onTimeout");
    }
    let reviewers = match kind {
        Kind::Uses(uses) => {
            input["maxUrlUses"] = json!(uses);
            0
        }
        Kind::Named(n) => n,
        Kind::Quorum => 3,
    };
    if reviewers > 0 {
        input.as_object_mut().expect("an object").remove("maxUrlUses");
        input["reviewers"] =
            (0..reviewers).map(|i| json!({"id": format!("r{i}"), "name": format!("Reviewer {i}")})).collect();
        if remind {
            let to: Vec<String> = (0..reviewers).map(|i| format!("r{i}")).collect();
            input["remind"] = json!({"after": 0.5, "to": to, "ruleSetId": "refund-remind"});
        }
    }
    if matches!(kind, Kind::Quorum) {
        input["quorum"] = json!({"approvals": 2, "field": "decision", "approve": "approve", "reject": "reject"});
    }
    if let Some(key) = key {
        input["idempotencyKey"] = json!(key);
    }
    input
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().expect("a token")
}

impl World {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn pick(&self, at: usize) -> Option<usize> {
        (!self.models.is_empty()).then(|| self.models.len() - 1 - at % self.models.len())
    }

    async fn step(&mut self, op: &Op) {
        let now = self.now();
        match *op {
            Op::Create { kind, on_timeout, remind, key } => self.create(kind, on_timeout, remind, key).await,
            Op::View { at, reviewer } => {
                let Some(k) = self.pick(at) else { return };
                let m = &self.models[k];
                let r = (m.reviewers() > 0).then(|| reviewer % m.reviewers());
                let view = self.service.view(token_of(&m.links[r.unwrap_or(0)])).await.expect("a view");
                assert_eq!(matches!(view, View::Live(_)), m.takes(r, now), "view of {k} via {r:?}: {view:?}");
            }
            Op::Submit { at, reviewer, approve } => {
                let Some(k) = self.pick(at) else { return };
                self.submit(k, reviewer, approve).await;
            }
            Op::Repeat { earlier } => {
                if self.posted.is_empty() {
                    return;
                }
                let (k, link, body) = self.posted[earlier % self.posted.len()].clone();
                let result = self.post(&link, &body).await;
                // A repeat changes nothing and is answered as the first, until the link's signed expiry.
                let expected = now < self.models[k].expires_at;
                assert_eq!(matches!(result, SubmitResult::Accepted { .. }), expected, "repeat on {k}: {result:?}");
            }
            Op::Advance(millis) => self.clock.advance(millis),
            Op::FireTimeout(at) => {
                let Some(k) = self.pick(at) else { return };
                // A timer fires at its instant, or later.
                let now = self.fire_at(self.models[k].expires_at);
                let outcome = self.service.fire_timeout(&self.models[k].id).await.expect("a timeout");
                let m = &mut self.models[k];
                let due = m.on_timeout
                    && !m.timed_out
                    && m.cancelled.is_none()
                    && !m.answered()
                    && m.expires_at <= now
                    && now < m.run_until;
                assert_eq!(outcome == TimeoutOutcome::Queued, due, "timeout of {k}: {outcome:?} on {m:?}");
                if due {
                    m.timed_out = true;
                    m.first_answer.get_or_insert_with(|| format!("{}:timeout", m.id));
                }
            }
            Op::FireReminder(at) => {
                let Some(k) = self.pick(at) else { return };
                let now = self.models[k].remind_at.map_or(now, |at| self.fire_at(at));
                let outcome = self.service.fire_reminder(&self.models[k].id).await.expect("a reminder");
                let m = &mut self.models[k];
                let due = m.remind_at.is_some_and(|at| at <= now)
                    && !m.reminded
                    && m.cancelled.is_none()
                    && !m.gone
                    && !m.timed_out
                    && !m.decided
                    && m.uses < m.max_uses
                    && now < m.expires_at
                    && now < m.run_until
                    && !m.pending().is_empty();
                assert_eq!(outcome == ReminderOutcome::Queued, due, "reminder of {k}: {outcome:?} on {m:?}");
                if due {
                    m.reminded = true;
                    let recorded = self.store.continuations(&m.id).await.expect("continuations");
                    let reminder = recorded.iter().find(|c| c.outcome == Outcome::Reminder).expect("the reminder");
                    let listed: Vec<String> =
                        reminder.pending_reviewers.iter().flatten().map(|p| p.reviewer_id.clone()).collect();
                    let pending: Vec<String> = m.pending().iter().map(|r| format!("r{r}")).collect();
                    assert_eq!(listed, pending, "the reminder lists exactly who has not answered");
                }
            }
            Op::Cancel(at) => {
                let Some(k) = self.pick(at) else { return };
                let id = self.models[k].id;
                let answer = self.service.cancel(&id).await.expect("a cancel");
                let recorded = self.store.continuations(&id).await.expect("continuations").len();
                let m = &mut self.models[k];
                let cancels = m.cancelled.is_some() || (!m.timed_out && !m.answered());
                assert_eq!(answer == Cancellation::Cancelled, cancels, "cancel of {k}: {answer:?} on {m:?}");
                if cancels {
                    m.cancelled.get_or_insert(recorded);
                }
            }
            Op::Attach(at) => {
                let Some(k) = self.pick(at) else { return };
                self.next += 1;
                let token = format!("tok-{}", self.next);
                self.tasks.issue(&token);
                let m = &mut self.models[k];
                m.tokens.push(token.clone());
                let attachment =
                    TaskAttachment { intervention_id: m.id, token: TaskToken::parse(&token).expect("a token") };
                let answer = self.service.attach_task(&attachment).await;
                if m.delivered {
                    // The heartbeat comes first: a throttled one is Unavailable before the store says delivered.
                    let refused = matches!(answer, Err(AttachError::AlreadyDelivered | AttachError::Unavailable(_)));
                    assert!(refused, "attach to {k}: {answer:?}");
                } else {
                    assert!(!matches!(answer, Err(AttachError::AlreadyDelivered)), "attach to {k}: {answer:?}");
                }
                self.observe_tasks().await;
            }
            Op::RunTimesOut(at) => {
                let Some(k) = self.pick(at) else { return };
                if let Some(token) = self.models[k].tokens.last() {
                    self.tasks.time_out(token);
                }
            }
            Op::Throttle(n) => self.tasks.fail_next(n),
            Op::Publish { queue_down, sweep } => {
                self.queue.down.store(queue_down, Ordering::SeqCst);
                let recorded_by = if sweep { now.plus_millis(-SWEEP_AFTER_MILLIS) } else { now };
                self.publish(recorded_by).await;
            }
        }
        // The stream publishes what a step recorded (while the queue is up).
        if matches!(op, Op::Submit { .. } | Op::FireTimeout(_) | Op::FireReminder(_))
            && !self.queue.down.load(Ordering::SeqCst)
        {
            self.publish(self.now()).await;
        }
    }

    async fn publish(&mut self, recorded_by: Timestamp) {
        let outlets = Outlets {
            queue: &self.queue,
            tasks: Some(self.tasks.as_ref()),
            receipts: receipts(),
            messengers: Default::default(),
        };
        // A queue that is down fails the pass; what it left stays in the outbox.
        let _ = publish_outbox(self.store.as_ref(), outlets, recorded_by, self.now()).await;
        self.observe_tasks().await;
    }

    /// The clock at `due` if it is earlier: the instant a timer due then fires.
    fn fire_at(&self, due: Timestamp) -> Timestamp {
        if self.now() < due {
            self.clock.set(due);
        }
        self.now()
    }

    async fn create(&mut self, kind: Kind, on_timeout: bool, remind: bool, key: Option<u8>) {
        let input = input(kind, on_timeout, remind, key.map(|k| format!("key-{}-{k}", self.tag))).to_string();
        let created = self.service.create(input.as_bytes()).await;
        let earlier = key.and_then(|key| self.keys.iter().find(|(k, _)| *k == key).map(|(_, at)| *at));
        if let Some(at) = earlier {
            // A key used before: the same intervention for the same input, else refused.
            if self.models[at].create_input == input {
                let created = created.expect("the creation repeated");
                assert_eq!(created.intervention_id, self.models[at].id.to_string());
            } else {
                assert!(matches!(created, Err(CreateError::KeyReused)), "{created:?}");
            }
            return;
        }
        let created = created.expect("created");
        let id = InterventionId::parse(&created.intervention_id).expect("an id");
        let at = &created.context["approval.url"];
        let links: Vec<String> = match at.as_object() {
            Some(links) => (0..links.len()).map(|r| links[&format!("r{r}")].as_str().expect("a link").into()).collect(),
            None => vec![at.as_str().expect("a link").to_owned()],
        };
        let stored = self.store.get(&id).await.expect("read").expect("stored");
        if let Some(key) = key {
            self.keys.push((key, self.models.len()));
        }
        self.models.push(Model {
            id,
            links,
            kind,
            create_input: input,
            max_uses: stored.max_uses,
            on_timeout,
            remind_at: stored.remind.as_ref().map(|r| r.at),
            expires_at: stored.expires_at,
            run_until: stored.run_available_until,
            uses: 0,
            reviewed: Vec::new(),
            approvals: 0,
            rejections: 0,
            decided: false,
            timed_out: false,
            cancelled: None,
            reminded: false,
            first_answer: None,
            tokens: Vec::new(),
            gone: false,
            delivered: false,
        });
    }

    async fn post(&self, link: &str, body: &str) -> SubmitResult {
        let request = SubmitRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        self.service.submit(token_of(link), request).await.expect("an answer")
    }

    async fn submit(&mut self, k: usize, reviewer: usize, approve: bool) {
        let now = self.now();
        self.next += 1;
        let sid = format!("m{}x{}", self.tag, self.next);
        let m = &self.models[k];
        let r = (m.reviewers() > 0).then(|| reviewer % m.reviewers());
        let link = m.links[r.unwrap_or(0)].clone();
        let body = format!("decision={}&_submissionId={sid}", if approve { "approve" } else { "reject" });
        let result = self.post(&link, &body).await;
        let m = &mut self.models[k];
        let takes = m.takes(r, now);
        assert_eq!(
            matches!(result, SubmitResult::Accepted { .. }),
            takes,
            "submit to {k} via {r:?}: {result:?} on {m:?}"
        );
        if !takes {
            return;
        }
        self.posted.push((k, link, body));
        m.uses += 1;
        m.reviewed.extend(r);
        let continuation = format!("{}:{sid}", m.id);
        if m.quorum() {
            if approve {
                m.approvals += 1;
            } else {
                m.rejections += 1;
            }
            let left = 3 - m.approvals - m.rejections;
            if m.approvals >= 2 || m.approvals + left < 2 {
                m.decided = true;
                m.first_answer.get_or_insert(continuation);
            }
        } else {
            m.first_answer.get_or_insert(continuation);
        }
    }

    /// The run's state as the store says after a step that may answer it.
    async fn observe_tasks(&mut self) {
        for m in &mut self.models {
            let stored = self.store.get(&m.id).await.expect("read").expect("stored");
            m.gone = stored.task.is_gone();
            m.delivered = matches!(stored.task, TaskStatus::Delivered { .. });
        }
    }

    /// The invariants, on the store as it is.
    async fn check(&self, step: usize) {
        let mut counted = 0u64;
        for (k, m) in self.models.iter().enumerate() {
            let at = format!("step {step}, intervention {k}");
            let stored = self.store.get(&m.id).await.expect("read").expect("stored");
            let recorded = self.store.continuations(&m.id).await.expect("continuations");
            assert_eq!(
                (stored.uses, stored.decision.is_some(), stored.timed_out_at.is_some()),
                (m.uses, m.decided, m.timed_out),
                "{at}: uses, decided, timed out"
            );
            assert_eq!(
                (stored.cancelled_at.is_some(), stored.reminded_at.is_some()),
                (m.cancelled.is_some(), m.reminded),
                "{at}: cancelled, reminded"
            );
            let answers: Vec<&Continuation> = recorded.iter().filter(|c| c.outcome != Outcome::Reminder).collect();
            let reminders = recorded.len() - answers.len();
            assert_eq!(reminders, usize::from(m.reminded), "{at}: one reminder at most, and only when queued");
            if m.quorum() {
                assert!(!(m.decided && m.timed_out), "{at}: a decision and a timeout");
                assert_eq!(answers.len(), usize::from(m.decided) + usize::from(m.timed_out), "{at}: {answers:?}");
            } else if m.timed_out {
                assert_eq!((answers.len(), m.uses), (1, 0), "{at}: a timeout and an answer");
                assert_eq!(answers[0].outcome, Outcome::TimedOut, "{at}");
            } else {
                assert_eq!(answers.len(), m.uses as usize, "{at}: continuations = accepted uses");
                assert!(answers.iter().all(|c| c.outcome == Outcome::Submitted), "{at}: {answers:?}");
            }
            if let Some(then) = m.cancelled {
                assert_eq!(recorded.len(), then, "{at}: a continuation recorded after the cancel");
            }
            assert_eq!(stored.first_answer, m.first_answer, "{at}: the first answer");
            if let Some(first) = &m.first_answer {
                // Answers accepted in one millisecond are ordered by id: the first is the earliest, not always first.
                let earliest = answers.iter().map(|c| &c.submitted_at).min();
                let first = answers.iter().find(|c| &c.id == first).expect("the first answer is recorded");
                assert_eq!(Some(&first.submitted_at), earliest, "{at}: an answer before the first");
            }
            // The waiting run gets the first answer, once.
            let outputs: Vec<String> = m.tokens.iter().filter_map(|t| self.tasks.output(t)).collect();
            assert!(outputs.len() <= 1, "{at}: answered {} times", outputs.len());
            if let Some(output) = outputs.first() {
                let first = answers.iter().find(|c| Some(&c.id) == m.first_answer.as_ref()).expect("a first answer");
                // What the run got is the first answer as recorded, signed by the publisher.
                let got: serde_json::Value = serde_json::from_str(output).expect("the run's output is JSON");
                let keys = receipts().public_keys().await.expect("the keys");
                assert_eq!(receipt::verify(&got, &keys).as_deref(), Ok("test"), "{at}: the receipt");
                let mut got: Continuation = serde_json::from_value(got).expect("a continuation");
                got.receipt = None;
                assert_eq!(&got, *first, "{at}: the run got another answer");
            }
            if let TaskStatus::Delivered { continuation_id, .. } = &stored.task {
                assert_eq!(Some(continuation_id), m.first_answer.as_ref(), "{at}: delivered");
            }
            for c in &recorded {
                let bytes = c.message_bytes().expect("a message");
                assert!(bytes <= MAX_MESSAGE_BYTES, "{at}: {} is {bytes} bytes", c.id);
                counted += u64::from(c.counts_against_allowance);
            }
        }
        let used = self.store.allowance_used("prod-eu", &self.now().year_month()).await.expect("allowance");
        assert_eq!(used, counted, "step {step}: the allowance counts the counted continuations");
        self.check_log(step).await;
    }

    /// The decision log holds exactly the decisions made, each on its chain, and it verifies.
    async fn check_log(&self, step: usize) {
        let entries = self.store.log_entries("prod-eu").await.expect("the decision log");
        for (k, m) in self.models.iter().enumerate() {
            let mine: Vec<&Entry> = entries.iter().filter(|e| e.intervention_id == m.id).collect();
            let count = |kinds: &[EntryKind]| mine.iter().filter(|e| kinds.contains(&e.kind)).count();
            let lanes = mine.iter().filter(|e| e.lane.is_some()).count();
            let expected = (
                if m.quorum() { 0 } else { m.uses as usize },
                count(&[EntryKind::Vote, EntryKind::Decision]),
                count(&[EntryKind::Decision]),
                count(&[EntryKind::Timeout]),
                count(&[EntryKind::Cancel]),
            );
            let made = (
                lanes,
                (m.approvals + m.rejections) as usize,
                usize::from(m.decided),
                usize::from(m.timed_out),
                usize::from(m.cancelled.is_some()),
            );
            assert_eq!(expected, made, "step {step}, intervention {k}: lanes, votes, decision, timeout, cancel");
        }
        let checkpoint = Checkpoint::after(None, "prod-eu", &entries, self.now());
        let text = export_lines(&entries, &checkpoint);
        let verified = verify(&text).unwrap_or_else(|p| panic!("step {step}: the decision log does not verify: {p:?}"));
        assert_eq!(verified.entries, entries.len(), "step {step}");
    }
}

/// Sequences and steps run, for the figures printed.
pub static SEQUENCES: AtomicUsize = AtomicUsize::new(0);
pub static STEPS: AtomicUsize = AtomicUsize::new(0);

/// Runs `ops` on `store` (fresh, used by this sequence alone), checking after every step.
pub async fn run(ops: &[Op], store: Arc<dyn InterventionStore>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let tasks = Arc::new(MemoryTasks::new());
    let keys = LinkKeys::parse(&format!("k1:{}", "C".repeat(44))).expect("keys");
    let service = Service::new(store.clone(), Arc::new(keys), clock.clone(), "https://l.example")
        .with_scheduler(Arc::new(MemoryScheduler::new()))
        .with_tasks(tasks.clone())
        .with_receipts(std::sync::Arc::new(receipts().clone()));
    let mut world = World {
        service,
        store,
        clock,
        tasks,
        queue: FlakyQueue::default(),
        models: Vec::new(),
        posted: Vec::new(),
        keys: Vec::new(),
        next: 0,
        tag: SEQUENCES.fetch_add(1, Ordering::Relaxed),
    };
    for (step, op) in ops.iter().enumerate() {
        world.step(op).await;
        world.check(step).await;
        STEPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The number of sequences: `MODEL_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

static FIRST_FAILURE: std::sync::OnceLock<(usize, usize, f64)> = std::sync::OnceLock::new();

/// Runs one sequence, noting how many sequences and seconds it took to find the first failure.
pub fn noting_failure(started: std::time::Instant, sequence: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(sequence)) {
        let at = (SEQUENCES.load(Ordering::Relaxed), STEPS.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
        FIRST_FAILURE.get_or_init(|| at);
        std::panic::resume_unwind(panic);
    }
}

/// The first failure's figures, for the summary line (empty when none failed).
pub fn first_failure() -> String {
    FIRST_FAILURE.get().map_or_else(String::new, |(sequences, steps, seconds)| {
        format!("; the first failure in sequence {sequences} (after {steps} steps, {seconds:.1} s)")
    })
}

/// Explores, on `runtime`, `MODEL_CASES` (else `default_cases`) random sequences on the stores `store` makes (one per
/// sequence), failing ones kept beside `source_file`; prints the figures under `label`.
pub fn explore<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    default_cases: u32,
    source_file: &'static str,
    store: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn InterventionStore>>,
{
    use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
    let config = Config {
        cases: cases(default_cases),
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let result = TestRunner::new(config).run(&ops(), |ops| {
        noting_failure(started, || runtime.block_on(async { run(&ops, store().await).await }));
        Ok(())
    });
    eprintln!(
        "{label}: {} sequences, {} steps in {:.1} s{}",
        SEQUENCES.load(Ordering::Relaxed),
        STEPS.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        first_failure()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// The receipt keys the model's publisher signs with.
fn receipts() -> &'static human_intervention::memory::LocalReceipts {
    static KEYS: std::sync::OnceLock<human_intervention::memory::LocalReceipts> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| human_intervention::memory::LocalReceipts::random("test").expect("a random receipt key"))
}

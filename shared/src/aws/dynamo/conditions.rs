//! The lifecycle's guards and effects in DynamoDB's expression language: the one place each is
//! translated. A test on dynoxide (`tests/tests/conditions.rs`) pins every guard's translation against
//! [`Guard::holds`] on the same items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::lifecycle::{Change, Effect, Guard};
use crate::domain::task::TASK_CLAIM_MILLIS;

use super::items::{n, reviewer_attribute, s};

/// An expression with its placeholders' names and values.
#[derive(Debug, Default, Clone)]
pub struct Expression {
    /// The text.
    pub text: String,
    /// `#name` → attribute.
    pub names: HashMap<String, String>,
    /// `:value` → value.
    pub values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn value(&mut self, key: String, value: AttributeValue) -> String {
        self.values.insert(key.clone(), value);
        key
    }

    fn name(&mut self, key: String, attribute: String) -> String {
        self.names.insert(key.clone(), attribute);
        key
    }

    /// Adds another expression's names and values (their placeholders never collide: `:g…` and `:e…`).
    pub fn merge(&mut self, other: Expression) {
        self.names.extend(other.names);
        self.values.extend(other.values);
    }

    /// The names, `None` when there are none (the SDK refuses an empty map).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, `None` when there are none.
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A change as DynamoDB writes it: the update's text, and the condition with the placeholders of both.
pub fn change<R>(change: &Change<R>) -> (String, Expression) {
    let mut expression = condition(&change.guards);
    let update = update(&change.effects);
    let text = update.text.clone();
    expression.merge(update);
    (text, expression)
}

/// The condition that holds exactly when the intervention item exists and every guard holds.
pub fn condition(guards: &[Guard]) -> Expression {
    let mut expression = Expression::default();
    let mut clauses = vec!["attribute_exists(pk)".to_owned()];
    for (k, guard) in guards.iter().enumerate() {
        clauses.push(clause(guard, k, &mut expression));
    }
    expression.text = clauses.join(" AND ");
    expression
}

fn clause(guard: &Guard, k: usize, e: &mut Expression) -> String {
    let v = |suffix: &str| format!(":g{k}{suffix}");
    match guard {
        Guard::NotCancelled => "attribute_not_exists(cancelledAt)".into(),
        Guard::NotTimedOut => "attribute_not_exists(timedOutAt)".into(),
        Guard::RunNotGone => "attribute_not_exists(taskGoneAt)".into(),
        Guard::LinkLiveAt(now) => format!("expiresAt > {}", e.value(v(""), n(now.millis()))),
        Guard::LinkExpiredAt(now) => format!("expiresAt <= {}", e.value(v(""), n(now.millis()))),
        Guard::RunAvailableAt(now) => format!("runAvailableUntil > {}", e.value(v(""), n(now.millis()))),
        Guard::UsesLeft => format!("{} < maxUses", e.name("#uses".into(), "uses".into())),
        Guard::UsesAre(uses) => {
            format!("{} = {}", e.name("#uses".into(), "uses".into()), e.value(v(""), n(uses)))
        }
        Guard::ReviewerAbsent(index) => {
            format!("attribute_not_exists({})", e.name(format!("#g{k}"), reviewer_attribute(*index)))
        }
        Guard::Undecided => "attribute_not_exists(decidedAt)".into(),
        Guard::Unanswered => format!(
            "({} = {} OR attribute_exists(quorumApprovals)) AND attribute_not_exists(decidedAt)",
            e.name("#uses".into(), "uses".into()),
            e.value(v(""), n(0))
        ),
        Guard::TallyIs(tally) => {
            // An item without a quorum has no tally attributes: it reads back as 0 and 0.
            let count = |e: &mut Expression, name: &str, key: String, value: u32| {
                let placeholder = e.value(key, n(value));
                match value {
                    0 => format!("(attribute_not_exists({name}) OR {name} = {placeholder})"),
                    _ => format!("{name} = {placeholder}"),
                }
            };
            let approvals = count(e, "approvals", v("a"), tally.approvals);
            format!("{approvals} AND {}", count(e, "rejections", v("r"), tally.rejections))
        }
        Guard::NotReminded => "attribute_not_exists(remindedAt)".into(),
        Guard::NotDelivered => "attribute_not_exists(taskDeliveredAt)".into(),
        Guard::TaskWaiting => {
            "attribute_exists(taskToken) AND attribute_not_exists(taskDeliveredAt) AND attribute_not_exists(taskGoneAt)"
                .into()
        }
        Guard::ClaimFreeAt(now) => format!(
            "(attribute_not_exists(taskClaimedAt) OR taskClaimedAt <= {})",
            e.value(v(""), n(now.plus_millis(-TASK_CLAIM_MILLIS).millis()))
        ),
        Guard::TokenIs(token) => format!("taskToken = {}", e.value(v(""), s(token.expose()))),
        Guard::LogHeadIs(None) => "attribute_not_exists(logSeq)".into(),
        Guard::LogHeadIs(Some(seq)) => format!("logSeq = {}", e.value(v(""), n(seq))),
    }
}

/// The update that applies the effects to the intervention item.
pub fn update(effects: &[Effect]) -> Expression {
    let mut clauses = Clauses::default();
    for (k, effect) in effects.iter().enumerate() {
        if !clauses.intervention_effect(effect, k) {
            clauses.task_effect(effect, k);
        }
    }
    let Clauses { mut e, set, remove } = clauses;
    let mut text = Vec::new();
    if !set.is_empty() {
        text.push(format!("SET {}", set.join(", ")));
    }
    if !remove.is_empty() {
        text.push(format!("REMOVE {}", remove.join(", ")));
    }
    e.text = text.join(" ");
    e
}

/// An update being written: its placeholders, and its SET and REMOVE clauses.
#[derive(Default)]
struct Clauses {
    e: Expression,
    set: Vec<String>,
    remove: Vec<&'static str>,
}

impl Clauses {
    /// `SET name = <value>`, the value under the effect's placeholder `:e<k><suffix>`.
    fn set(&mut self, name: &str, k: usize, suffix: &str, value: AttributeValue) {
        let placeholder = self.e.value(format!(":e{k}{suffix}"), value);
        self.set.push(format!("{name} = {placeholder}"));
    }

    /// The effects on the intervention's answers; `false` for a task effect.
    fn intervention_effect(&mut self, effect: &Effect, k: usize) -> bool {
        let v = |suffix: &str| format!(":e{k}{suffix}");
        match effect {
            Effect::CountUse => {
                let uses = self.e.name("#uses".into(), "uses".into());
                let one = self.e.value(v(""), n(1));
                self.set.push(format!("{uses} = {uses} + {one}"));
            }
            Effect::MarkReviewer { index, submission_id } => {
                let name = self.e.name(format!("#e{k}"), reviewer_attribute(*index));
                self.set(&name, k, "", s(submission_id.as_str()));
            }
            Effect::CountVote { approve: true, tally } => self.set("approvals", k, "", n(tally.approvals)),
            Effect::CountVote { approve: false, tally } => self.set("rejections", k, "", n(tally.rejections)),
            Effect::Decide(decision) => {
                self.set("decidedAt", k, "t", n(decision.at.millis()));
                self.set("outcome", k, "o", s(decision.verdict.as_str()));
                self.set("decidedBy", k, "b", s(decision.submission_id.as_str()));
            }
            Effect::Answer(id) => {
                let first = self.e.value(v(""), s(id));
                self.set.push(format!("firstAnswer = if_not_exists(firstAnswer, {first})"));
            }
            Effect::TimeOut(at) => self.set("timedOutAt", k, "", n(at.millis())),
            Effect::Remind(at) => self.set("remindedAt", k, "", n(at.millis())),
            Effect::Cancel(at) => {
                let at = self.e.value(v(""), n(at.millis()));
                self.set.push(format!("cancelledAt = if_not_exists(cancelledAt, {at})"));
            }
            Effect::Expiry(at) => self.set("expiresAt", k, "", n(at.millis())),
            // The head moves here; the entry itself is an item of its own (`dynamo::ledger`).
            Effect::Append(entry) if entry.lane.is_none() => {
                self.set("logSeq", k, "s", n(entry.seq));
                self.set("logHead", k, "d", s(&entry.digest));
            }
            Effect::Append(_) => {}
            _ => return false,
        }
        true
    }

    /// The effects on the waiting run's token and its delivery.
    fn task_effect(&mut self, effect: &Effect, k: usize) {
        match effect {
            Effect::Attach { token, at } => {
                self.set("taskToken", k, "k", s(token.expose()));
                self.set("taskKind", k, "w", s(token.kind().as_str()));
                self.set("taskAttachedAt", k, "t", n(at.millis()));
                self.remove.extend(["taskClaimedAt", "taskGone", "taskGoneAt", "taskUnconfirmed", "taskUnconfirmedAt"]);
            }
            Effect::Claim(at) => self.set("taskClaimedAt", k, "", n(at.millis())),
            Effect::Delivered { continuation_id, at } => {
                self.set("taskDelivered", k, "c", s(continuation_id));
                self.set("taskDeliveredAt", k, "t", n(at.millis()));
                self.remove.extend(["taskToken", "taskClaimedAt"]);
            }
            Effect::Gone { reason, at } => {
                self.set("taskGone", k, "r", s(reason));
                self.set("taskGoneAt", k, "t", n(at.millis()));
                self.remove.extend(["taskToken", "taskClaimedAt"]);
            }
            Effect::Release => self.remove.push("taskClaimedAt"),
            Effect::Unconfirmed { continuation_id, at, retry } => {
                self.set("taskUnconfirmed", k, "c", s(continuation_id));
                self.set("taskUnconfirmedAt", k, "t", n(at.millis()));
                self.remove.push("taskClaimedAt");
                if !retry {
                    self.remove.push("taskToken");
                }
            }
            _ => {}
        }
    }
}

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
    }
}

/// The update that applies the effects to the intervention item.
pub fn update(effects: &[Effect]) -> Expression {
    let mut e = Expression::default();
    let (mut set, mut remove) = (Vec::new(), Vec::<&str>::new());
    for (k, effect) in effects.iter().enumerate() {
        let v = |suffix: &str| format!(":e{k}{suffix}");
        match effect {
            Effect::CountUse => {
                let uses = e.name("#uses".into(), "uses".into());
                set.push(format!("{uses} = {uses} + {}", e.value(v(""), n(1))));
            }
            Effect::MarkReviewer { index, submission_id } => {
                let name = e.name(format!("#e{k}"), reviewer_attribute(*index));
                set.push(format!("{name} = {}", e.value(v(""), s(submission_id.as_str()))));
            }
            Effect::CountVote { approve, tally } => set.push(if *approve {
                format!("approvals = {}", e.value(v(""), n(tally.approvals)))
            } else {
                format!("rejections = {}", e.value(v(""), n(tally.rejections)))
            }),
            Effect::Decide(decision) => {
                set.push(format!("decidedAt = {}", e.value(v("t"), n(decision.at.millis()))));
                set.push(format!("outcome = {}", e.value(v("o"), s(decision.verdict.as_str()))));
                set.push(format!("decidedBy = {}", e.value(v("b"), s(decision.submission_id.as_str()))));
            }
            Effect::Answer(id) => {
                set.push(format!("firstAnswer = if_not_exists(firstAnswer, {})", e.value(v(""), s(id))))
            }
            Effect::TimeOut(at) => set.push(format!("timedOutAt = {}", e.value(v(""), n(at.millis())))),
            Effect::Remind(at) => set.push(format!("remindedAt = {}", e.value(v(""), n(at.millis())))),
            Effect::Cancel(at) => {
                set.push(format!("cancelledAt = if_not_exists(cancelledAt, {})", e.value(v(""), n(at.millis()))))
            }
            Effect::Attach { token, at } => {
                set.push(format!("taskToken = {}", e.value(v("k"), s(token.expose()))));
                set.push(format!("taskAttachedAt = {}", e.value(v("t"), n(at.millis()))));
                remove.extend(["taskClaimedAt", "taskGone", "taskGoneAt", "taskUnconfirmed", "taskUnconfirmedAt"]);
            }
            Effect::Claim(at) => set.push(format!("taskClaimedAt = {}", e.value(v(""), n(at.millis())))),
            Effect::Delivered { continuation_id, at } => {
                set.push(format!("taskDelivered = {}", e.value(v("c"), s(continuation_id))));
                set.push(format!("taskDeliveredAt = {}", e.value(v("t"), n(at.millis()))));
                remove.extend(["taskToken", "taskClaimedAt"]);
            }
            Effect::Gone { reason, at } => {
                set.push(format!("taskGone = {}", e.value(v("r"), s(reason))));
                set.push(format!("taskGoneAt = {}", e.value(v("t"), n(at.millis()))));
                remove.extend(["taskToken", "taskClaimedAt"]);
            }
            Effect::Release => remove.push("taskClaimedAt"),
            Effect::Unconfirmed { continuation_id, at, retry } => {
                set.push(format!("taskUnconfirmed = {}", e.value(v("c"), s(continuation_id))));
                set.push(format!("taskUnconfirmedAt = {}", e.value(v("t"), n(at.millis()))));
                remove.push("taskClaimedAt");
                if !retry {
                    remove.push("taskToken");
                }
            }
        }
    }
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

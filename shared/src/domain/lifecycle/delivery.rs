//! The delivery to a waiting run: attaching its token, claiming the delivery, and settling how it ended.

use super::{Change, Effect, Guard};
use crate::domain::model::Intervention;
use crate::domain::task::TaskToken;
use crate::domain::time::Timestamp;

/// Why a task change did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskRefusal {
    /// A decision was delivered to a run already.
    AlreadyDelivered,
    /// No run waits, or another publisher holds the claim: nothing to do.
    NotClaimable,
    /// Another token is attached now (a later attempt of the step): this one's fate no longer matters.
    Replaced,
}

fn explain_task(guard: &Guard, _: &Intervention) -> TaskRefusal {
    match guard {
        Guard::NotDelivered => TaskRefusal::AlreadyDelivered,
        Guard::TokenIs(_) => TaskRefusal::Replaced,
        _ => TaskRefusal::NotClaimable,
    }
}

/// Attaching a waiting run's token at `now` (replacing an earlier attempt's), unless a decision was
/// delivered already.
pub fn attach(token: &TaskToken, now: Timestamp) -> Change<TaskRefusal> {
    let effects = vec![Effect::Attach { token: token.clone(), at: now }];
    Change { guards: vec![Guard::NotDelivered], effects, at: now, explain: explain_task }
}

/// Claiming the delivery to the waiting run at `now`: a token attached, nothing delivered, the run not
/// gone, and no claim younger than the claim's hold.
pub fn claim(now: Timestamp) -> Change<TaskRefusal> {
    let guards = vec![Guard::TaskWaiting, Guard::ClaimFreeAt(now)];
    Change { guards, effects: vec![Effect::Claim(now)], at: now, explain: explain_task }
}

/// How a claimed delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The run took this continuation.
    Delivered(String),
    /// Step Functions refused the token for good (its error code).
    Gone(String),
    /// The attempt failed and may be tried again.
    Released,
    /// Step Functions may have taken this continuation but never said so: `retry` after a lost reply,
    /// not after a refusal that followed one. Never the run gone: the links stay as they are.
    Unconfirmed {
        /// The continuation sent.
        continuation_id: String,
        /// Whether another attempt may be made (the token is kept).
        retry: bool,
    },
}

/// Recording how the delivery to `token` ended at `now`: a delivery whatever token is attached now (the
/// run had its answer); a refusal or a release only while `token` is still the one attached.
pub fn settle(token: &TaskToken, settlement: &Settlement, now: Timestamp) -> Change<TaskRefusal> {
    let (guards, effect) = match settlement {
        Settlement::Delivered(continuation_id) => {
            (Vec::new(), Effect::Delivered { continuation_id: continuation_id.clone(), at: now })
        }
        Settlement::Gone(reason) => {
            (vec![Guard::TokenIs(token.clone())], Effect::Gone { reason: reason.clone(), at: now })
        }
        Settlement::Released => (vec![Guard::TokenIs(token.clone())], Effect::Release),
        Settlement::Unconfirmed { continuation_id, retry } => (
            vec![Guard::TokenIs(token.clone())],
            Effect::Unconfirmed { continuation_id: continuation_id.clone(), at: now, retry: *retry },
        ),
    };
    Change { guards, effects: vec![effect], at: now, explain: explain_task }
}

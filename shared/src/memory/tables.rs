//! What the memory store keeps, and the writes every operation shares, under its one lock.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::continuation::Continuation;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::ledger::{Checkpoint, Entry};
use crate::domain::lifecycle::{Change, Effect};
use crate::domain::message::{Message, Slot};
use crate::domain::model::{Intervention, Submission};
use crate::domain::time::Timestamp;

#[derive(Default)]
pub(super) struct Tables {
    pub(super) interventions: HashMap<InterventionId, Intervention>,
    pub(super) submissions: HashMap<InterventionId, Vec<Submission>>,
    /// Where each submission is in its intervention's list: a repeat is found without reading them all
    /// (a link with many uses would make every post read every earlier one).
    pub(super) submission_at: HashMap<InterventionId, HashMap<SubmissionId, usize>>,
    /// Continuations recorded but not yet on the queue, oldest first, with when they were recorded
    /// (shared with `recorded`: a continuation is copied once, when it is recorded).
    pub(super) outbox: Vec<(Timestamp, Arc<Continuation>)>,
    /// Continuations the queue refused for good, with the reason.
    pub(super) parked: Vec<(Arc<Continuation>, String, Timestamp)>,
    pub(super) allowance: HashMap<(String, String), u64>,
    /// Every continuation recorded, by intervention (the outbox forgets published ones).
    pub(super) recorded: HashMap<InterventionId, Vec<Arc<Continuation>>>,
    /// Each intervention's decision log, appended by the changes that carry an entry.
    pub(super) log: HashMap<InterventionId, Vec<Entry>>,
    /// Each environment's checkpoints of the decision log, oldest first.
    pub(super) checkpoints: HashMap<String, Vec<Checkpoint>>,
    /// Each intervention's messages, with their outbox slot and a sender's claim.
    pub(super) messages: HashMap<InterventionId, Vec<StoredMessage>>,
}

/// A message as the memory store keeps it: what DynamoDB keeps on its item.
pub(super) struct StoredMessage {
    pub(super) message: Message,
    pub(super) slot: Option<Slot>,
    pub(super) claimed_at: Option<Timestamp>,
}

impl Tables {
    /// The submission recorded under this id, if any.
    pub(super) fn submission(&self, id: &InterventionId, submission_id: &SubmissionId) -> Option<&Submission> {
        let at = *self.submission_at.get(id)?.get(submission_id)?;
        self.submissions.get(id)?.get(at)
    }

    /// Records an accepted submission, after its intervention's earlier ones.
    pub(super) fn record_submission(&mut self, submission: Submission) {
        let id = submission.intervention_id;
        let all = self.submissions.entry(id).or_default();
        self.submission_at.entry(id).or_default().insert(submission.submission_id.clone(), all.len());
        all.push(submission);
    }

    /// Records a continuation: in the outbox (until published) and among the intervention's continuations.
    pub(super) fn record_continuation(&mut self, id: InterventionId, continuation: Continuation, now: Timestamp) {
        let continuation = Arc::new(continuation);
        self.outbox.push((now, continuation.clone()));
        self.recorded.entry(id).or_default().push(continuation);
    }

    /// Applies `change` to the stored intervention if its guards hold, or returns the refusal the change
    /// gives on the intervention as stored (`None`: no such intervention). No copy is made: callers read
    /// the stored intervention only for what they need. The change's decision log entry is kept with it,
    /// under the same lock.
    pub(super) fn apply<R>(&mut self, id: &InterventionId, change: &Change<R>) -> Option<Result<(), R>> {
        let applied = change.apply(self.interventions.get_mut(id)?);
        if applied.is_ok() {
            for effect in &change.effects {
                if let Effect::Append(entry) = effect {
                    self.log.entry(*id).or_default().push(entry.as_ref().clone());
                }
            }
        }
        Some(applied)
    }

    /// Records new messages in the outbox, unsent (a message id recorded before is kept as it was).
    pub(super) fn record_messages(&mut self, intervention: &Intervention, messages: &[Message]) {
        let stored = self.messages.entry(intervention.id).or_default();
        for message in messages {
            if stored.iter().all(|m| m.message.id != message.id) {
                let slot = message.slot(intervention.expires_at);
                stored.push(StoredMessage { message: message.clone(), slot, claimed_at: None });
            }
        }
    }

    /// Messages in the outbox part `part` whose instant is at or before `by`, oldest first.
    pub(super) fn slotted(&self, limit: usize, by: Timestamp, part: fn(Slot) -> Option<Timestamp>) -> Vec<Message> {
        let mut found: Vec<(Timestamp, &Message)> = self
            .messages
            .values()
            .flatten()
            .filter_map(|m| m.slot.and_then(part).filter(|at| *at <= by).map(|at| (at, &m.message)))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        found.into_iter().take(limit).map(|(_, m)| m.clone()).collect()
    }

    pub(super) fn count_allowance(&mut self, id: &InterventionId, now: Timestamp) {
        let Some(intervention) = self.interventions.get(id) else { return };
        if intervention.tier.counts_against_allowance() {
            let key = (intervention.environment_id.clone(), now.year_month());
            *self.allowance.entry(key).or_default() += 1;
        }
    }
}

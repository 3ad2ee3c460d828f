//! Exporting an environment's decision log: every entry as stored, checked, then anchored by the
//! environment's next checkpoint (written once: a second exporter of the same checkpoint is refused), as
//! JSON Lines. A stored log that does not verify against the last checkpoint, or that lacks an entry an
//! intervention's head names, is reported, never anchored.

use std::collections::HashMap;

use crate::domain::id::InterventionId;
use crate::domain::ledger::{export_lines, verify, verify_after, Checkpoint, Entry, Problem};
use crate::domain::model::Intervention;
use crate::domain::time::Timestamp;
use crate::ports::store::{InterventionStore, ListQuery, StoreError};

/// Interventions read per page of the environment's listing.
const PAGE: usize = 100;

/// An export written.
#[derive(Debug, Clone)]
pub struct Export {
    /// The JSON Lines: the entries, then the checkpoint.
    pub text: String,
    /// The checkpoint it ends with (stored).
    pub checkpoint: Checkpoint,
    /// How many entries it holds.
    pub entries: usize,
    /// Links with more accepted submissions than lanes: deleted lanes, or submissions accepted before the
    /// log existed (which have none). Reported, not refused.
    pub unlogged: Vec<String>,
}

/// Why no export was written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed (or another export stored this checkpoint first: [`StoreError::AlreadyExists`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored log does not verify (against the last checkpoint): someone changed it. Nothing anchored.
    #[error("the stored decision log does not verify: {}", describe(.0))]
    Broken(Vec<Problem>),
    /// Interventions record decisions whose entries the log no longer holds (deleted). Nothing anchored.
    #[error("decision log entries are missing: {}", .0.join("; "))]
    Missing(Vec<String>),
}

fn describe(problems: &[Problem]) -> String {
    let first: Vec<String> = problems.iter().take(5).map(|p| format!("line {}: {}", p.line, p.what)).collect();
    first.join("; ")
}

/// Exports `environment_id`'s decision log at `now`: the entries (by intervention id, then `seq`) and
/// the next checkpoint, stored before the text is returned.
pub async fn export_log(
    store: &dyn InterventionStore,
    environment_id: &str,
    now: Timestamp,
) -> Result<Export, ExportError> {
    let previous = store.last_checkpoint(environment_id).await?;
    // The interventions before their entries: an entry read is never older than the head read.
    let interventions = all_interventions(store, environment_id, now).await?;
    let entries = store.log_entries(environment_id).await?;
    let (missing, unlogged) = missing(&interventions, &entries);
    if !missing.is_empty() {
        return Err(ExportError::Missing(missing));
    }
    for link in &unlogged {
        tracing::warn!(link = %link, "accepted submissions without a decision log entry");
    }
    let checkpoint = Checkpoint::after(previous.as_ref(), environment_id, &entries, now);
    let text = export_lines(&entries, &checkpoint);
    let verified = match &previous {
        Some(previous) => verify_after(&text, previous),
        None => verify(&text),
    };
    verified.map_err(ExportError::Broken)?;
    store.add_checkpoint(&checkpoint).await?;
    tracing::info!(entries = entries.len(), checkpoint = checkpoint.seq, "decision log exported");
    Ok(Export { text, checkpoint, entries: entries.len(), unlogged })
}

/// Every intervention of the environment, page after page (the operator's listing, no scan).
async fn all_interventions(
    store: &dyn InterventionStore,
    environment_id: &str,
    now: Timestamp,
) -> Result<Vec<Intervention>, StoreError> {
    let (mut all, mut next_token) = (Vec::new(), None);
    loop {
        let query = ListQuery { environment_id: environment_id.to_owned(), state: None, limit: PAGE, next_token, now };
        let page = store.list(&query).await?;
        all.extend(page.interventions);
        match page.next_token {
            Some(token) => next_token = Some(token),
            None => return Ok(all),
        }
    }
}

/// What the interventions say was decided and the entries do not hold: a chain shorter than its head
/// (or ending elsewhere); and, apart, links with fewer lanes than accepted submissions.
fn missing(interventions: &[Intervention], entries: &[Entry]) -> (Vec<String>, Vec<String>) {
    let mut chains: HashMap<InterventionId, Vec<&Entry>> = HashMap::new();
    let mut lanes: HashMap<InterventionId, u32> = HashMap::new();
    for entry in entries {
        match entry.lane {
            None => chains.entry(entry.intervention_id).or_default().push(entry),
            Some(_) => *lanes.entry(entry.intervention_id).or_default() += 1,
        }
    }
    let (mut missing, mut unlogged) = (Vec::new(), Vec::new());
    for i in interventions {
        if let Some(head) = &i.log_head {
            let held = chains.get(&i.id).and_then(|c| c.iter().find(|e| e.seq == head.seq));
            if held.is_none_or(|e| e.digest != head.digest) {
                missing.push(format!("intervention {}'s entry {} (its head)", i.id, head.seq));
            }
        }
        let logged = lanes.get(&i.id).copied().unwrap_or(0);
        if i.quorum.is_none() && logged < i.uses {
            unlogged.push(format!("intervention {}: {} accepted submissions, {logged} logged", i.id, i.uses));
        }
    }
    (missing, unlogged)
}

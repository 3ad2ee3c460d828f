//! Exporting an environment's decision log: every entry as stored, checked, then anchored by the
//! environment's next checkpoint (written once: a second exporter of the same checkpoint is refused), as
//! JSON Lines. A stored log that does not verify against the last checkpoint is reported, never anchored.

use crate::domain::ledger::{export_lines, verify, verify_after, Checkpoint, Problem};
use crate::domain::time::Timestamp;
use crate::ports::store::{InterventionStore, StoreError};

/// An export written.
#[derive(Debug, Clone)]
pub struct Export {
    /// The JSON Lines: the entries, then the checkpoint.
    pub text: String,
    /// The checkpoint it ends with (stored).
    pub checkpoint: Checkpoint,
    /// How many entries it holds.
    pub entries: usize,
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
    let entries = store.log_entries(environment_id).await?;
    let checkpoint = Checkpoint::after(previous.as_ref(), environment_id, &entries, now);
    let text = export_lines(&entries, &checkpoint);
    let verified = match &previous {
        Some(previous) => verify_after(&text, previous),
        None => verify(&text),
    };
    verified.map_err(ExportError::Broken)?;
    store.add_checkpoint(&checkpoint).await?;
    tracing::info!(entries = entries.len(), checkpoint = checkpoint.seq, "decision log exported");
    Ok(Export { text, checkpoint, entries: entries.len() })
}

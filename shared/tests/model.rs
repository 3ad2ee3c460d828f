//! The contract's model (tests/support/model.rs) on the memory store: `MODEL_CASES` sequences (default
//! 512, about 6 s); a failing sequence is kept in model.proptest-regressions and replayed first.

#[path = "support/model.rs"]
mod model;

use std::sync::Arc;

use human_intervention::memory::MemoryStore;

#[test]
fn random_sequences_keep_the_contract_on_the_memory_store() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    model::explore(&runtime, "memory store", 512, file!(), || async {
        Arc::new(MemoryStore::new()) as Arc<dyn human_intervention::ports::store::InterventionStore>
    });
}

/// The shrunk counterexample to `lifecycle::remind` without `RunNotGone` (a reminder queued after the
/// waiting run went: its token timed out, the first answer's delivery refused), kept explicit because
/// the random search reaches it only once in several thousand sequences.
#[test]
fn a_reminder_after_the_waiting_run_went_is_refused() {
    use model::{Kind, Op};
    let ops = [
        Op::Create { kind: Kind::Named(2), on_timeout: false, remind: true, key: None },
        Op::Attach(0),
        Op::RunTimesOut(0),
        Op::Submit { at: 0, reviewer: 0, approve: true },
        Op::FireReminder(0),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(model::run(&ops, Arc::new(MemoryStore::new())));
}

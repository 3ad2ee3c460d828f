//! The contract's model (tests/support/model.rs) on the memory store: `MODEL_CASES` sequences (default
//! 512, about 6 s); a failing sequence is kept in model.proptest-regressions and replayed first.

#[path = "support/model.rs"]
mod model;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use human_intervention::memory::MemoryStore;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

#[test]
fn random_sequences_keep_the_contract_on_the_memory_store() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let config = Config {
        cases: model::cases(512),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let result = TestRunner::new(config).run(&model::ops(), |ops| {
        runtime.block_on(model::run(&ops, Arc::new(MemoryStore::new())));
        Ok(())
    });
    eprintln!(
        "memory store: {} sequences, {} steps in {:.1} s",
        model::SEQUENCES.load(Ordering::Relaxed),
        model::STEPS.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

//! The contract's model (shared/tests/support/model.rs) on DynamoDB (dynoxide), a fresh table for each
//! sequence: `MODEL_CASES` sequences (default 8; `make race` runs 100). Failing sequences are kept in
//! model.proptest-regressions beside this file and replayed first.

#[path = "../../shared/tests/support/model.rs"]
mod model;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use human_intervention::aws::DynamoStore;
use human_intervention::domain::id::random_id;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

#[test]
fn random_sequences_keep_the_contract_on_dynamodb() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let client = runtime
        .block_on(async { intervention_tests::aws::dynamodb_client(&intervention_tests::aws::local_config().await) });
    let config = Config {
        cases: model::cases(8),
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let result = TestRunner::new(config).run(&model::ops(), |ops| {
        model::noting_failure(started, || {
            runtime.block_on(async {
                let name = format!("hi-model-{}", random_id(6).expect("random").replace(['_', '-'], "x"));
                let store = DynamoStore::new(client.clone(), &name);
                store.create_table().await.expect("table created");
                model::run(&ops, Arc::new(store)).await;
            })
        });
        Ok(())
    });
    eprintln!(
        "dynoxide: {} sequences, {} steps in {:.1} s{}",
        model::SEQUENCES.load(Ordering::Relaxed),
        model::STEPS.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        model::first_failure()
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

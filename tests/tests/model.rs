//! The contract's model (shared/tests/support/model.rs) on DynamoDB (dynoxide), a fresh table for each
//! sequence: `MODEL_CASES` sequences (default 8; `make race` runs 100). Failing sequences are kept in
//! model.proptest-regressions beside this file and replayed first.

#[path = "../../shared/tests/support/model.rs"]
mod model;

use std::sync::Arc;

use human_intervention::aws::DynamoStore;
use human_intervention::domain::id::random_id;

#[test]
fn random_sequences_keep_the_contract_on_dynamodb() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let client = runtime
        .block_on(async { intervention_tests::aws::dynamodb_client(&intervention_tests::aws::local_config().await) });
    model::explore(&runtime, "dynoxide", 8, file!(), || async {
        let name = format!("hi-model-{}", random_id(6).expect("random").replace(['_', '-'], "x"));
        let store = DynamoStore::new(client.clone(), &name);
        store.create_table().await.expect("table created");
        Arc::new(store) as Arc<dyn human_intervention::ports::store::InterventionStore>
    });
}

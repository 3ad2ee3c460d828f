//! The `human-intervention-verify` command on continuations the product published: a genuine one verifies
//! (with the consumer's own action), and an altered message, a forged receipt, an unknown key or another
//! action each fail with exit status 1 and the reason.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use human_intervention::domain::proof::receipt::ReceiptKey;
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::{LocalReceipts, MemoryQueue, MemoryStore};
use human_intervention::ports::receipts::ReceiptSigner;
use human_intervention::service::{publish_outbox, Outlets, Service, SubmitRequest, SubmitResult};
use serde_json::{json, Value};

fn verify(dir: &Path, continuation: &Value, keys: &Value, action: Option<&Value>) -> (bool, String) {
    std::fs::write(dir.join("c.json"), continuation.to_string()).unwrap();
    std::fs::write(dir.join("keys.json"), keys.to_string()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_human-intervention-verify"));
    command.arg("receipt").arg(dir.join("c.json")).arg("--keys").arg(dir.join("keys.json"));
    if let Some(action) = action {
        std::fs::write(dir.join("action.json"), action.to_string()).unwrap();
        command.arg("--action").arg(dir.join("action.json"));
    }
    let output = command.output().expect("the verify command runs");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

#[tokio::test]
async fn the_verify_command_passes_what_was_published_and_names_every_kind_of_tampering() {
    let store = Arc::new(MemoryStore::new());
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![7; 32]).unwrap(), vec![]).unwrap());
    let service = Service::new(store.clone(), keys, Arc::new(SystemClock), "http://l.example");
    let action = json!({"refund": {"order": "A-1001", "amount": "120.50", "currency": "EUR"}});
    let until = SystemClock.now().plus_millis(48 * 3_600_000).to_rfc3339();
    let mut input: Value = serde_json::from_str(include_str!("../../docs/examples/link-creation-input.json")).unwrap();
    input["runAvailableUntil"] = json!(until);
    input["action"] = action.clone();
    input.as_object_mut().unwrap().remove("onTimeout");
    let created = service.create(input.to_string().as_bytes()).await.unwrap();
    let token = created.context["approval.url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let body = b"decision=approve&refund.amount=80&_submissionId=s1";
    let request =
        SubmitRequest { content_type: Some("application/x-www-form-urlencoded"), idempotency_key: None, body };
    assert!(matches!(service.submit(&token, request).await.unwrap(), SubmitResult::Accepted { .. }));
    // Signed by the old key, before a rotation; the published keys then list the new key first.
    let old = ReceiptKey::random("old").unwrap();
    let signer = LocalReceipts::new(old.clone(), vec![]);
    let queue = MemoryQueue::new();
    let now = SystemClock.now();
    publish_outbox(
        store.as_ref(),
        Outlets { queue: &queue, tasks: None, receipts: &signer, messengers: Default::default() },
        now,
        now,
    )
    .await
    .unwrap();
    let published = serde_json::to_value(&queue.messages()[0]).unwrap();
    // The secret context value travels to the consumer in `context`, never in what was shown or signed over
    // as shown.
    assert_eq!(published["context"]["customer.email"], json!("a@example.com"));
    assert!(!published["shown"].to_string().contains("a@example.com"), "{}", published["shown"]);
    assert_eq!(published["changes"], json!([{"field": "refund.amount", "proposed": 120.5, "submitted": 80.0}]));
    // The operator's record shows afterwards what was approved: the same document, digest and changes.
    let id = human_intervention::domain::id::InterventionId::parse(&created.intervention_id).unwrap();
    let record = serde_json::to_value(service.record(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        (&record["shown"], &record["digest"], &record["action"]),
        (&published["shown"], &published["digest"], &action)
    );
    assert_eq!(record["submissions"][0]["changes"], published["changes"]);
    let rotated = LocalReceipts::new(ReceiptKey::random("new").unwrap(), vec![old]);
    let keys = serde_json::to_value(rotated.public_keys().await.unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("hi-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let (ok, said) = verify(&dir, &published, &keys, Some(&action));
    assert!(ok && said.contains("signed by key old") && said.contains("digest matches"), "{said}");
    // The same content in another key order.
    let reordered: Value = serde_json::from_str(&published.to_string()).unwrap();
    assert!(verify(&dir, &reordered, &keys, None).0);
    let mut altered = published.clone();
    altered["context"]["refund.amount"] = json!(8000.0);
    let (ok, said) = verify(&dir, &altered, &keys, None);
    assert!(!ok && said.contains("altered after signing, or forged"), "{said}");
    let mut reshown = published.clone();
    reshown["shown"]["details"] = json!([]);
    assert!(!verify(&dir, &reshown, &keys, None).0, "the shown document is signed");
    let only_new = json!({"keys": [keys["keys"][0].clone()]});
    let (ok, said) = verify(&dir, &published, &only_new, None);
    assert!(!ok && said.contains("not among the published keys"), "{said}");
    let other_action = json!({"refund": {"order": "A-1001", "amount": "1200.50", "currency": "EUR"}});
    let (ok, said) = verify(&dir, &published, &keys, Some(&other_action));
    assert!(!ok && said.contains("decided on something else"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Signing continuations as they leave: the queue's and the waiting run's alike carry a receipt over
//! everything else in them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use sha2::{Digest, Sha256};

use crate::domain::canonical::write_canonical_with;
use crate::domain::continuation::Continuation;
use crate::domain::proof::receipt::{signed_message, Receipt, ALGORITHM};
use crate::ports::receipts::{ReceiptSigner, SignError};

/// `continuation` with its receipt: the signer's signature over its canonical JSON without `receipt`.
pub async fn sign(receipts: &dyn ReceiptSigner, mut continuation: Continuation) -> Result<Continuation, SignError> {
    continuation.receipt = None;
    let message = unsigned_message(&mut continuation).map_err(|e| SignError(e.to_string()))?;
    let signature = receipts.sign(&message).await?;
    continuation.receipt = Some(Receipt {
        key_id: receipts.key_id().to_owned(),
        algorithm: ALGORITHM.to_owned(),
        signature: STANDARD.encode(signature),
    });
    Ok(continuation)
}

/// [`signed_message`] of `continuation` (without a receipt): its presented document, kept in canonical form,
/// goes into the signed bytes as it is instead of being written out and back.
fn unsigned_message(continuation: &mut Continuation) -> Result<[u8; 32], serde_json::Error> {
    let shown = std::mem::take(&mut continuation.shown);
    let rest = serde_json::to_value(&*continuation);
    continuation.shown = shown;
    let rest = rest?;
    match rest.as_object() {
        Some(object) if !continuation.shown.is_absent() => {
            let mut bytes = Vec::with_capacity(continuation.shown.canonical_json().len() + 2048);
            write_canonical_with(object, "shown", continuation.shown.canonical_json().as_bytes(), &mut bytes);
            Ok(Sha256::digest(bytes).into())
        }
        _ => Ok(signed_message(&rest)),
    }
}

/// Every continuation of `batch` signed, in order; the first failure stops it (nothing leaves unsigned).
pub async fn sign_all(receipts: &dyn ReceiptSigner, batch: Vec<Continuation>) -> Result<Vec<Continuation>, SignError> {
    let mut signed = Vec::with_capacity(batch.len());
    for continuation in batch {
        signed.push(sign(receipts, continuation).await?);
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proof::Shown;
    use serde_json::json;

    #[test]
    fn the_document_goes_in_as_kept_and_the_bytes_are_the_canonical_json_of_the_whole() {
        let mut continuation: Continuation = serde_json::from_value(json!({
            "version": 1, "id": "AAAAAAAAAAAAAAAAAAAAAA:s1", "outcome": "submitted", "environmentId": "env",
            "correlationId": "run", "ruleSetId": "next", "interventionId": "AAAAAAAAAAAAAAAAAAAAAA",
            "countsAgainstAllowance": false, "context": {"z": "\u{1F600}", "a": 1.5},
            "digest": "sha256:00", "action": {"b": [1e30, 4.50], "a": "é"},
        }))
        .unwrap();
        // Keys that sort around "shown" on both sides, numbers RFC 8785 writes its own way, and non-ASCII keys.
        let document =
            json!({"title": "T", "fields": [{"key": "k", "value": 1e-7, "\u{E9}": 0.000001}], "details": []});
        continuation.shown = Shown::from_value(&document);
        let whole = serde_json::to_value(&continuation).unwrap();
        assert_eq!(whole["shown"], document);
        assert_eq!(unsigned_message(&mut continuation).unwrap(), signed_message(&whole));
        assert_eq!(continuation.shown, Shown::from_value(&document), "kept");
        continuation.shown = Shown::default();
        let without = serde_json::to_value(&continuation).unwrap();
        assert!(without.get("shown").is_none());
        assert_eq!(unsigned_message(&mut continuation).unwrap(), signed_message(&without));
    }
}

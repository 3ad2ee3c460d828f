//! Signing continuations as they leave: the queue's and the waiting run's alike carry a receipt over
//! everything else in them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::domain::continuation::Continuation;
use crate::domain::proof::receipt::{signed_message, Receipt, ALGORITHM};
use crate::ports::receipts::{ReceiptSigner, SignError};

/// `continuation` with its receipt: the signer's signature over its canonical JSON without `receipt`.
pub async fn sign(receipts: &dyn ReceiptSigner, mut continuation: Continuation) -> Result<Continuation, SignError> {
    continuation.receipt = None;
    let unsigned = serde_json::to_value(&continuation).map_err(|e| SignError(e.to_string()))?;
    let signature = receipts.sign(&signed_message(&unsigned)).await?;
    continuation.receipt = Some(Receipt {
        key_id: receipts.key_id().to_owned(),
        algorithm: ALGORITHM.to_owned(),
        signature: STANDARD.encode(signature),
    });
    Ok(continuation)
}

/// Every continuation of `batch` signed, in order; the first failure stops it (nothing leaves unsigned).
pub async fn sign_all(receipts: &dyn ReceiptSigner, batch: Vec<Continuation>) -> Result<Vec<Continuation>, SignError> {
    let mut signed = Vec::with_capacity(batch.len());
    for continuation in batch {
        signed.push(sign(receipts, continuation).await?);
    }
    Ok(signed)
}

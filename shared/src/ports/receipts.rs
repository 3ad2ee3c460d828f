//! The receipt port: who signs a continuation as it leaves the publisher, and the public keys a consumer
//! verifies the signatures with.

use async_trait::async_trait;

use crate::domain::proof::receipt::Jwks;

/// Why a continuation could not be signed (it stays in the outbox and is tried again: never sent unsigned).
#[derive(Debug, thiserror::Error)]
#[error("signing the receipt failed: {0}")]
pub struct SignError(pub String);

/// Signs receipts (ECDSA P-256 over SHA-256 of the 32-byte message) and publishes the public keys.
#[async_trait]
pub trait ReceiptSigner: Send + Sync {
    /// The id of the key new receipts are signed with.
    fn key_id(&self) -> &str;

    /// The DER signature of `message` (the receipt's signed message).
    async fn sign(&self, message: &[u8; 32]) -> Result<Vec<u8>, SignError>;

    /// Every key a receipt may name, the signing one first (rotated-out keys stay published).
    async fn public_keys(&self) -> Result<Jwks, SignError>;
}

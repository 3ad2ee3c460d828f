//! The embedded default's receipt keys: P-256 keys held in the process (`RECEIPT_SIGNING_KEYS`, or one
//! generated at start).

use async_trait::async_trait;

use crate::domain::proof::receipt::{parse_keys, Jwks, ReceiptKey};
use crate::ports::receipts::{ReceiptSigner, SignError};

/// Local receipt keys: the first signs, every one is published.
#[derive(Debug, Clone)]
pub struct LocalReceipts {
    keys: Vec<ReceiptKey>,
}

impl LocalReceipts {
    /// Keys from the `RECEIPT_SIGNING_KEYS` setting (`kid:base64key[,…]`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        parse_keys(spec).map(|keys| Self { keys })
    }

    /// One fresh key named `kid`.
    pub fn random(kid: &str) -> Result<Self, String> {
        Ok(Self { keys: vec![ReceiptKey::random(kid)?] })
    }

    /// These keys, `signing` first.
    pub fn new(signing: ReceiptKey, retired: Vec<ReceiptKey>) -> Self {
        Self { keys: std::iter::once(signing).chain(retired).collect() }
    }

    fn signing(&self) -> &ReceiptKey {
        // Never empty: every constructor puts the signing key first.
        &self.keys[0]
    }
}

#[async_trait]
impl ReceiptSigner for LocalReceipts {
    fn key_id(&self) -> &str {
        self.signing().kid()
    }

    async fn sign(&self, message: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        Ok(self.signing().sign(message))
    }

    async fn public_keys(&self) -> Result<Jwks, SignError> {
        Ok(Jwks { keys: self.keys.iter().map(ReceiptKey::public).collect() })
    }
}

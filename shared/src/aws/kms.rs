//! KMS: receipts signed with an asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that never leaves KMS, and its
//! public keys read back for publishing.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use tokio::sync::OnceCell;

use super::lazy::LazyClient;
use crate::domain::proof::receipt::{check_kid, Jwk, Jwks};
use crate::ports::receipts::{ReceiptSigner, SignError};

/// KMS's limit on a RAW message to Sign; a receipt's message is always 32 bytes.
pub const MAX_RAW_MESSAGE_BYTES: usize = 4_096;

/// Receipt keys in KMS: the first signs; every one is published (rotation: add the new key first, keep the
/// old ones listed for as long as their receipts must verify).
pub struct KmsReceipts {
    client: LazyClient<Client>,
    key_ids: Vec<String>,
    published: OnceCell<Jwks>,
}

impl KmsReceipts {
    /// Receipts signed by `key_ids[0]` through `client`; refused without a key or with a key id that is
    /// not one.
    pub fn new(client: impl Into<LazyClient<Client>>, key_ids: Vec<String>) -> Result<Self, String> {
        if key_ids.is_empty() {
            return Err("no receipt key is given".into());
        }
        key_ids.iter().try_for_each(|k| check_kid(k))?;
        Ok(Self { client: client.into(), key_ids, published: OnceCell::new() })
    }

    /// Keys from `RECEIPT_KMS_KEY_IDS` (`keyId[,keyId…]`, the signing key first).
    pub fn from_setting(client: impl Into<LazyClient<Client>>, setting: &str) -> Result<Self, String> {
        let ids = setting.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
        Self::new(client, ids).map_err(|e| format!("RECEIPT_KMS_KEY_IDS: {e}"))
    }
}

fn kms_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    error: aws_sdk_kms::error::SdkError<E, R>,
) -> SignError {
    SignError(aws_sdk_kms::error::DisplayErrorContext(&error).to_string())
}

#[async_trait]
impl ReceiptSigner for KmsReceipts {
    fn key_id(&self) -> &str {
        &self.key_ids[0]
    }

    async fn sign(&self, message: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        // RAW: KMS hashes the 32 bytes with SHA-256 itself, as a verifier does (DIGEST would skip that).
        let signed = self
            .client
            .get()
            .sign()
            .key_id(self.key_id())
            .message(Blob::new(message.to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(kms_error)?;
        signed.signature.map(Blob::into_inner).ok_or_else(|| SignError("KMS returned no signature".into()))
    }

    async fn public_keys(&self) -> Result<Jwks, SignError> {
        let keys = self
            .published
            .get_or_try_init(|| async {
                let mut keys = Vec::with_capacity(self.key_ids.len());
                for id in &self.key_ids {
                    let public = self.client.get().get_public_key().key_id(id).send().await.map_err(kms_error)?;
                    let der =
                        public.public_key.ok_or_else(|| SignError(format!("KMS returned no public key for {id}")))?;
                    keys.push(Jwk::from_spki_der(id, der.as_ref()).map_err(SignError)?);
                }
                Ok::<_, SignError>(Jwks { keys })
            })
            .await?;
        Ok(keys.clone())
    }
}

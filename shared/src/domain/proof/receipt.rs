//! Signed receipts: each continuation leaves the publisher signed (ECDSA P-256 with SHA-256; KMS on AWS, a
//! local key on the embedded default), and anyone holding the published public keys verifies it without
//! calling the product. The signed message is the SHA-256 of the continuation's canonical JSON (RFC 8785)
//! without its `receipt`: 32 bytes, so KMS signs it as a RAW message of any continuation's size.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::domain::proof::canonical;

/// The signing algorithm, as KMS names it (ECDSA on P-256 over SHA-256); the signature is DER, base64.
pub const ALGORITHM: &str = "ECDSA_SHA_256";
/// Longest key id (a KMS key ARN is about 75 characters; an alias ARN more).
pub const MAX_KEY_ID_CHARS: usize = 256;
/// Room a receipt takes in a continuation message at most: `,"receipt":{…}` with the longest key id and a
/// DER signature (at most 72 bytes, 96 as base64).
pub const RECEIPT_RESERVE_BYTES: usize = 512;

/// A continuation's signature, as it carries it (`receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The key that signed (its `kid` in the published keys).
    pub key_id: String,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// The DER-encoded ECDSA signature, base64.
    pub signature: String,
}

/// The 32 bytes a receipt signs: SHA-256 of the canonical JSON of `continuation` without `receipt`.
pub fn signed_message(continuation: &serde_json::Value) -> [u8; 32] {
    let canonical = match continuation.as_object() {
        // Copied only when there is a receipt to leave out: the publisher signs continuations without one.
        Some(object) if object.contains_key("receipt") => {
            let mut unsigned = object.clone();
            unsigned.remove("receipt");
            canonical(&serde_json::Value::Object(unsigned))
        }
        _ => canonical(continuation),
    };
    Sha256::digest(canonical).into()
}

/// A P-256 signing key with its id: the embedded default's receipt key.
#[derive(Clone)]
pub struct ReceiptKey {
    kid: String,
    key: SigningKey,
    /// The same key in ring, which signs (p256 keeps the key, its public half and the fallback).
    signer: Option<Arc<EcdsaKeyPair>>,
}

impl fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptKey({}, <private>)", self.kid)
    }
}

impl ReceiptKey {
    /// A key with id `kid` from its 32-byte private scalar.
    pub fn new(kid: &str, scalar: &[u8]) -> Result<Self, String> {
        check_kid(kid)?;
        let key = SigningKey::from_slice(scalar)
            .map_err(|_| format!("the receipt key {kid:?} is not a P-256 private key (32 bytes, in range)"))?;
        let public = key.verifying_key().to_encoded_point(false);
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar,
            public.as_bytes(),
            &SystemRandom::new(),
        )
        .ok()
        .map(Arc::new);
        Ok(Self { kid: kid.to_owned(), key, signer })
    }

    /// A fresh random key (the local server's when none is configured).
    pub fn random(kid: &str) -> Result<Self, String> {
        loop {
            let mut scalar = [0u8; 32];
            getrandom::fill(&mut scalar).map_err(|e| e.to_string())?;
            // Out of range (≥ the group order, or zero) about once in 2^32 draws: draw again.
            if let Ok(key) = Self::new(kid, &scalar) {
                return Ok(key);
            }
        }
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The DER signature of `message` (ECDSA P-256, SHA-256 of the message): ring's, with a random nonce;
    /// p256's (RFC 6979 nonce) only if ring could not take the key or draw a nonce.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        if let Some(signed) = self.signer.as_ref().and_then(|s| s.sign(&SystemRandom::new(), message).ok()) {
            return signed.as_ref().to_vec();
        }
        let signature: Signature = self.key.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// The public half, as published.
    pub fn public(&self) -> Jwk {
        Jwk::from_key(&self.kid, self.key.verifying_key())
    }
}

/// Refuses a key id a receipt could not name: empty, over [`MAX_KEY_ID_CHARS`], or not printable ASCII
/// without commas (the settings list keys with commas).
pub fn check_kid(kid: &str) -> Result<(), String> {
    if kid.is_empty() || kid.len() > MAX_KEY_ID_CHARS || !kid.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(format!(
            "receipt key id {kid:?} must be 1 to {MAX_KEY_ID_CHARS} printable ASCII characters, no commas"
        ));
    }
    Ok(())
}

/// Parses `kid:base64scalar[,kid:base64scalar…]` (the `RECEIPT_SIGNING_KEYS` setting): the first signs; all
/// are published, so receipts signed before a rotation still verify.
pub fn parse_keys(spec: &str) -> Result<Vec<ReceiptKey>, String> {
    let mut keys: Vec<ReceiptKey> = Vec::new();
    for (i, part) in spec.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let (kid, scalar) = part.split_once(':').ok_or_else(|| format!("receipt key {i} is not `kid:base64key`"))?;
        let scalar = STANDARD
            .decode(scalar.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(scalar.trim()))
            .map_err(|_| format!("the receipt key {kid:?} is not base64"))?;
        let key = ReceiptKey::new(kid.trim(), &scalar)?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(format!("receipt key id {:?} is given twice", key.kid));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("no receipt keys are given".into());
    }
    Ok(keys)
}

/// A published public key (RFC 7517 JWK, EC P-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// The key id a receipt names.
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The point's x coordinate, base64url.
    pub x: String,
    /// The point's y coordinate, base64url.
    pub y: String,
}

impl Jwk {
    fn from_key(kid: &str, key: &VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| c.map(|c| URL_SAFE_NO_PAD.encode(c)).unwrap_or_default();
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            kid: kid.to_owned(),
            use_: "sig".into(),
            x: coordinate(point.x()),
            y: coordinate(point.y()),
        }
    }

    /// The JWK of a DER SubjectPublicKeyInfo (what KMS's GetPublicKey returns).
    pub fn from_spki_der(kid: &str, der: &[u8]) -> Result<Self, String> {
        check_kid(kid)?;
        let key = VerifyingKey::from_public_key_der(der)
            .map_err(|e| format!("the public key of {kid:?} is not a P-256 key: {e}"))?;
        Ok(Self::from_key(kid, &key))
    }

    fn verifying_key(&self) -> Result<VerifyingKey, String> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(format!("key {:?} is {} {}, not EC P-256", self.kid, self.kty, self.crv));
        }
        let x = URL_SAFE_NO_PAD.decode(&self.x).map_err(|_| format!("key {:?}: x is not base64url", self.kid))?;
        let y = URL_SAFE_NO_PAD.decode(&self.y).map_err(|_| format!("key {:?}: y is not base64url", self.kid))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(format!("key {:?}: x and y must be 32 bytes each", self.kid));
        }
        let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
        VerifyingKey::from_encoded_point(&point).map_err(|_| format!("key {:?} is not a point on P-256", self.kid))
    }
}

/// The published keys (RFC 7517 JWK Set): every key a receipt may name, the current one first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The continuation carries no receipt (or not one of this shape).
    #[error("the continuation has no receipt: {0}")]
    Missing(String),
    /// The receipt names a key the published keys do not hold.
    #[error("the receipt names key {0:?}, which is not among the published keys")]
    UnknownKey(String),
    /// The receipt or the key is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The signature does not match the continuation: it was altered, or signed by another key.
    #[error("the signature of key {0:?} does not match this continuation: it was altered after signing, or forged")]
    Mismatch(String),
}

/// Verifies the receipt of `continuation` (its JSON, as received) against `keys`; the key id that signed.
pub fn verify(continuation: &serde_json::Value, keys: &Jwks) -> Result<String, ReceiptError> {
    let receipt = continuation.get("receipt").ok_or_else(|| ReceiptError::Missing("no `receipt`".into()))?;
    let receipt: Receipt = serde_json::from_value(receipt.clone()).map_err(|e| ReceiptError::Missing(e.to_string()))?;
    if receipt.algorithm != ALGORITHM {
        return Err(ReceiptError::Malformed(format!(
            "the receipt's algorithm is {:?}; only {ALGORITHM} is verified",
            receipt.algorithm
        )));
    }
    let jwk = keys
        .keys
        .iter()
        .find(|k| k.kid == receipt.key_id)
        .ok_or_else(|| ReceiptError::UnknownKey(receipt.key_id.clone()))?;
    let key = jwk.verifying_key().map_err(ReceiptError::Malformed)?;
    let der = STANDARD
        .decode(&receipt.signature)
        .map_err(|_| ReceiptError::Malformed("the receipt's signature is not base64".into()))?;
    let signature = Signature::from_der(&der)
        .map_err(|_| ReceiptError::Malformed("the receipt's signature is not a DER ECDSA signature".into()))?;
    key.verify(&signed_message(continuation), &signature)
        .map_err(|_| ReceiptError::Mismatch(receipt.key_id.clone()))?;
    Ok(receipt.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signed(key: &ReceiptKey, mut continuation: serde_json::Value) -> serde_json::Value {
        let signature = key.sign(&signed_message(&continuation));
        continuation["receipt"] =
            json!({"keyId": key.kid(), "algorithm": ALGORITHM, "signature": STANDARD.encode(signature)});
        continuation
    }

    #[test]
    fn a_receipt_verifies_until_anything_is_altered() {
        let key = ReceiptKey::random("k1").unwrap();
        let keys = Jwks { keys: vec![key.public()] };
        let c = signed(&key, json!({"id": "x:s", "outcome": "submitted", "context": {"amount": 120.5}}));
        assert_eq!(verify(&c, &keys), Ok("k1".into()));
        // The same content in another key order is the same message.
        let reordered: serde_json::Value = serde_json::from_str(&c.to_string()).unwrap();
        assert_eq!(verify(&reordered, &keys), Ok("k1".into()));
        let mut altered = c.clone();
        altered["context"]["amount"] = json!(1200.5);
        assert_eq!(verify(&altered, &keys), Err(ReceiptError::Mismatch("k1".into())));
    }

    #[test]
    fn a_rotated_out_key_still_verifies_and_a_forged_receipt_does_not() {
        let old = ReceiptKey::random("old").unwrap();
        let new = ReceiptKey::random("new").unwrap();
        let published = Jwks { keys: vec![new.public(), old.public()] };
        let c = json!({"id": "x:s", "outcome": "approved"});
        assert_eq!(verify(&signed(&old, c.clone()), &published), Ok("old".into()));
        // A forger's key under a published id.
        let forger = ReceiptKey::random("new").unwrap();
        assert_eq!(verify(&signed(&forger, c.clone()), &published), Err(ReceiptError::Mismatch("new".into())));
        let stranger = ReceiptKey::random("stranger").unwrap();
        assert_eq!(verify(&signed(&stranger, c.clone()), &published), Err(ReceiptError::UnknownKey("stranger".into())));
        assert!(matches!(verify(&c, &published), Err(ReceiptError::Missing(_))));
    }

    #[test]
    fn keys_parse_from_the_setting_and_refuse_what_is_not_a_key() {
        let a = STANDARD.encode([7u8; 32]);
        let keys = parse_keys(&format!("new:{a}, old:{}", STANDARD.encode([9u8; 32]))).unwrap();
        assert_eq!(keys.iter().map(ReceiptKey::kid).collect::<Vec<_>>(), ["new", "old"]);
        assert!(parse_keys(&format!("a:{a},a:{a}")).unwrap_err().contains("twice"));
        assert!(parse_keys("a:AAAA").unwrap_err().contains("not a P-256 private key"));
        assert!(parse_keys(&STANDARD.encode([0u8; 32])).is_err());
        assert!(parse_keys("").is_err());
    }

    #[test]
    fn the_largest_receipt_fits_its_reserve() {
        let receipt = Receipt {
            key_id: "k".repeat(MAX_KEY_ID_CHARS),
            algorithm: ALGORITHM.into(),
            signature: STANDARD.encode([0xffu8; 72]),
        };
        let bytes = format!(",\"receipt\":{}", serde_json::to_string(&receipt).unwrap()).len();
        assert!(bytes <= RECEIPT_RESERVE_BYTES, "{bytes}");
    }
}

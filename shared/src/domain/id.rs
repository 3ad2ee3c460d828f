//! The ids of the product: an intervention's (128 random bits), a submission's (from the page or an
//! `Idempotency-Key`), and the one hex spelling of digests.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Bytes in an intervention id.
pub const ID_BYTES: usize = 16;

/// An intervention's id: 128 random bits, written as 22 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterventionId([u8; ID_BYTES]);

impl InterventionId {
    /// A fresh id from the operating system's random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The id an idempotency key names in an environment: every retry of one creation finds the same
    /// intervention. Only creation uses it; a link is still a signed token, so a known id opens nothing.
    pub fn for_idempotency_key(environment_id: &str, key: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("idempotencyKey\n{environment_id}\n{key}"));
        let mut bytes = [0u8; ID_BYTES];
        bytes.copy_from_slice(&digest[..ID_BYTES]);
        Self(bytes)
    }

    /// Parses the canonical 22-character form; any other spelling is refused.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 22 || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let id = Self(bytes.try_into().ok()?);
        (id.to_string() == text).then_some(id)
    }

    /// The id's 16 bytes (what a link token carries).
    pub fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// The id with these 16 bytes.
    pub fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for InterventionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for InterventionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InterventionId({self})")
    }
}

impl serde::Serialize for InterventionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for InterventionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not an intervention id"))
    }
}

/// A random id of `bytes` bytes as base64url: for submission ids the page hands out.
pub fn random_id(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The last part of a timeout continuation's id (`<interventionId>:timeout`); never a submission id.
pub const TIMEOUT_SUFFIX: &str = "timeout";

/// The last part of a reminder's id (`<interventionId>:reminder`); never a submission id.
pub const REMINDER_SUFFIX: &str = "reminder";

/// Longest submission id.
pub const MAX_SUBMISSION_ID_CHARS: usize = 64;

/// The id that makes a repeated post the same submission: 1 to 64 characters of `A-Z a-z 0-9 _ -`, and
/// never `timeout` or `reminder`, so a submission's continuation id is never a timeout's or a reminder's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubmissionId(String);

impl SubmissionId {
    /// Parses an id from the page's hidden field or an `Idempotency-Key` header: the only way in.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text != TIMEOUT_SUFFIX
            && text != REMINDER_SUFFIX
            && text.len() <= MAX_SUBMISSION_ID_CHARS
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Self(text.to_owned()))
    }

    /// A fresh id of 128 random bits, for the form a page hands out (or a post that sent none).
    pub fn random() -> Result<Self, getrandom::Error> {
        random_id(16).map(Self)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of a submission that is never posted (it measures what a continuation weighs).
    pub(crate) fn probe() -> Self {
        Self("probe".to_owned())
    }
}

impl fmt::Display for SubmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SubmissionId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not a submission id"))
    }
}

impl From<SubmissionId> for String {
    fn from(id: SubmissionId) -> String {
        id.0
    }
}

/// Lower-case hex of `bytes`: the one spelling of digests (request tokens, fingerprints, log digests).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_id_is_never_the_timeout_suffix_nor_outside_its_alphabet() {
        assert!(SubmissionId::parse("a-Z_09").is_some());
        for bad in ["", "timeout", "a b", "a:b", "é", &"x".repeat(MAX_SUBMISSION_ID_CHARS + 1)] {
            assert!(SubmissionId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(serde_json::from_str::<SubmissionId>("\"timeout\"").is_err());
        assert_eq!(SubmissionId::random().unwrap().as_str().len(), 22);
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}

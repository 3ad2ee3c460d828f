//! RFC 8785 (JCS) canonical JSON and the `sha256:` digest over it: the one form every digest and every
//! exported log line of this product is written in.
//!
//! The canonical form of strings, booleans, nulls and integers up to ±2^53 is serde_json's compact form,
//! and objects are written with their keys sorted: that is written here directly, without the copies of
//! every key and value a general canonicaliser makes. Any other number (a fraction, or an integer beyond
//! ±2^53, which RFC 8785 writes as the nearest double) is written by `serde_json_canonicalizer`, which
//! formats numbers as ECMAScript does.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::id::hex;

/// The prefix of every digest this product writes (`sha256:` and 64 lowercase hex digits).
pub const DIGEST_PREFIX: &str = "sha256:";

/// The largest integer RFC 8785 writes as its own digits (every integer up to it is exact as a double).
pub const EXACT_INTEGER: u64 = 1 << 53;

/// RFC 8785 canonical JSON of `value`: the same bytes for the same content in any key order.
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out);
    out
}

/// Appends the canonical JSON of `value` to `out` (to write a document around it without copying it).
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    write(value, out);
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("{DIGEST_PREFIX}{}", hex(&Sha256::digest(bytes)))
}

/// `sha256:<hex>` of the canonical JSON of `value`.
pub fn digest(value: &Value) -> String {
    sha256_digest(&canonical(value))
}

/// A JSON document kept in canonical form (the presented document, `shown`): written once, shared by every
/// copy, sized and sent as bytes, and signed without being written again. Absent is `null`.
#[derive(Clone, Default)]
pub struct Document(Option<Arc<RawValue>>);

impl Document {
    /// The document `value`, in its canonical form.
    pub fn from_value(value: &Value) -> Self {
        if value.is_null() {
            return Self(None);
        }
        // Canonical JSON is JSON, and UTF-8: neither check fails; were one to, the document would still be
        // kept, as serde_json writes it, rather than lost.
        let raw = String::from_utf8(canonical(value))
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .or_else(|| serde_json::value::to_raw_value(value).ok());
        Self(raw.map(Arc::from))
    }

    /// No document (a continuation stored before documents were carried).
    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// The canonical JSON text (`null` when absent).
    pub fn canonical_json(&self) -> &str {
        self.0.as_deref().map_or("null", RawValue::get)
    }

    /// The document as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.canonical_json()).unwrap_or(Value::Null)
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        // Canonical: the same document is the same text.
        self.canonical_json() == other.canonical_json()
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical_json())
    }
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(raw) => raw.serialize(serializer),
            None => serializer.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for Document {
    /// From any JSON (a stored continuation, a consumer's value): written again in canonical form.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_value(&Value::deserialize(deserializer)?))
    }
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(n), _) if n <= EXACT_INTEGER => out.extend_from_slice(n.to_string().as_bytes()),
            (None, Some(n)) if n.unsigned_abs() <= EXACT_INTEGER => out.extend_from_slice(n.to_string().as_bytes()),
            // Only a non-finite number fails, and a serde_json::Value cannot hold one.
            _ => out.extend(serde_json_canonicalizer::to_vec(value).unwrap_or_default()),
        },
        // serde_json escapes exactly what RFC 8785 §3.2.2.2 escapes, the same way (`\u00xx` lowercase).
        Value::String(text) => string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => object(map.iter().map(|(k, v)| (k.as_str(), Member::Value(v))).collect(), out),
    }
}

/// Appends the canonical JSON of the object `map` with one more member, `key`, whose value `raw` is already
/// canonical JSON: a document kept in canonical form goes in as it is, without being written again.
pub fn write_canonical_with(map: &serde_json::Map<String, Value>, key: &str, raw: &[u8], out: &mut Vec<u8>) {
    let mut entries: Vec<(&str, Member)> =
        map.iter().filter(|(k, _)| k.as_str() != key).map(|(k, v)| (k.as_str(), Member::Value(v))).collect();
    entries.push((key, Member::Raw(raw)));
    object(entries, out);
}

/// A member's value: to be written, or written already.
enum Member<'a> {
    Value(&'a Value),
    Raw(&'a [u8]),
}

fn object(mut entries: Vec<(&str, Member)>, out: &mut Vec<u8>) {
    entries.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push(b'{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(key, out);
        out.push(b':');
        match item {
            Member::Value(value) => write(value, out),
            Member::Raw(raw) => out.extend_from_slice(raw),
        }
    }
    out.push(b'}');
}

fn string(text: &str, out: &mut Vec<u8>) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// RFC 8785 sorts keys by their UTF-16 code units; for ASCII that is byte order.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn library(value: &Value) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(value).unwrap()
    }

    #[test]
    fn numbers_beyond_exact_integers_are_written_as_rfc_8785_writes_them() {
        for value in [
            json!({"b": [1e30, 4.5, 0.002, 0.000001, 1e-7], "a": 9_007_199_254_740_993u64}),
            json!([-9_007_199_254_740_993i64, 9_007_199_254_740_992u64, -9_007_199_254_740_992i64, 0, -1]),
            json!({"\u{FFFD}": 1, "\u{1F600}": 2, "é": 3, "z": 4, "": 5}),
        ] {
            assert_eq!(canonical(&value), library(&value), "{value}");
        }
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-100_000i64..100_000).prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
            "[\\x00-\\x7f\u{2028}\u{E000}\u{FFFF}\u{10000}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z\u{E9}\u{FFFD}\u{1F600}\u{E000}\u{10FFFF}_]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_the_reference_implementation(value in values()) {
            prop_assert_eq!(canonical(&value), library(&value));
        }
    }
}

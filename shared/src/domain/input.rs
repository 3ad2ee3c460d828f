//! A submission's body, parsed strictly, and the reviewer's input checked against the form (each field by
//! its own rules in [`crate::domain::field`]).
//!
//! Policy for posted keys: a key that is not a field of the form (nor the submission id) is ignored and
//! never reaches the context; a scalar field posted twice is refused, never first- or last-wins.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::domain::context::Context;
use crate::domain::field::{check_field, Field};
use crate::domain::form::{FormDocument, SUBMISSION_ID_FIELD};
use crate::domain::id::{SubmissionId, MAX_SUBMISSION_ID_CHARS};

/// Largest body a submission may have, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most key/value pairs a body may have.
pub const MAX_PAIRS: usize = 1_000;
/// Why a body was refused before its values were looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Over [`MAX_BODY_BYTES`] (413).
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Neither form-urlencoded nor JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A charset other than UTF-8 (400).
    #[error("the charset {0:?} is not supported; send UTF-8")]
    Charset(String),
    /// Bytes that are not UTF-8 (400).
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(String),
    /// Syntax that does not parse (400).
    #[error("{0}")]
    Malformed(String),
    /// A single-valued field posted more than once (400).
    #[error("the field `{0}` was sent more than once")]
    DuplicateField(String),
    /// Over [`MAX_PAIRS`] (413).
    #[error("the body has more than {MAX_PAIRS} fields")]
    TooManyFields,
    /// A submission id of the wrong shape (400).
    #[error(
        "the submission id must be 1 to {MAX_SUBMISSION_ID_CHARS} characters of A-Z a-z 0-9 _ - (and not `timeout`)"
    )]
    BadSubmissionId,
    /// An `Idempotency-Key` header whose bytes are not UTF-8 (400): never dropped, which would make a
    /// client's retry a new submission.
    #[error("the Idempotency-Key header is not UTF-8 text; send 1 to {MAX_SUBMISSION_ID_CHARS} characters of A-Z a-z 0-9 _ -")]
    IdempotencyKeyNotUtf8,
    /// An `Idempotency-Key` header and a posted `_submissionId` that differ (400): neither silently wins.
    #[error(
        "the Idempotency-Key header and the posted _submissionId differ; send one of them, or the same id in both"
    )]
    SubmissionIdMismatch,
}

impl BodyError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge | Self::TooManyFields => 413,
            Self::UnsupportedMediaType(_) => 415,
            _ => 400,
        }
    }
}

/// The posted values, key to values in the order sent; only the syntax has been checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInput {
    values: BTreeMap<String, Vec<String>>,
    submission_id: Option<SubmissionId>,
}

impl RawInput {
    /// The values posted for `key` (empty when none).
    pub fn values(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A one-click link's answer: `option` becomes the value of `field` (the one-click field). A different
    /// value posted for it is refused with the message at that field, and left as posted: the link
    /// answers only its own option.
    pub fn confirm_choice(&mut self, field: &Field, option: &str) -> Result<(), String> {
        let key = field.key.as_str();
        match self.values(key) {
            [] => {}
            [one] if one == option => {}
            [posted, ..] => {
                return Err(format!(
                    "This link confirms “{}”; it cannot answer “{}”. Open the link for that choice, or the form.",
                    field.option_label(option),
                    field.option_label(posted)
                ))
            }
        }
        self.values.insert(key.to_owned(), vec![option.to_owned()]);
        Ok(())
    }

    /// The submission id that makes a repeated post the same submission, if one was sent.
    pub fn submission_id(&self) -> Option<&SubmissionId> {
        self.submission_id.as_ref()
    }

    /// A digest of the values of the form's fields: equal for a repeat of the same post.
    pub fn fingerprint(&self, form: Option<&FormDocument>) -> [u8; 32] {
        // The hashed bytes gathered first: one digest of a buffer costs a fraction of a hundred small updates.
        let mut bytes = Vec::with_capacity(1024);
        for field in form.map(|f| f.fields.as_slice()).unwrap_or(&[]) {
            let key = field.key.as_str();
            let values = self.values(key);
            bytes.extend_from_slice(&(key.len() as u64).to_be_bytes());
            bytes.extend_from_slice(key.as_bytes());
            bytes.extend_from_slice(&(values.len() as u64).to_be_bytes());
            for value in values {
                bytes.extend_from_slice(&(value.len() as u64).to_be_bytes());
                bytes.extend_from_slice(value.as_bytes());
            }
        }
        Sha256::digest(&bytes).into()
    }
}

/// Checks a submission id from the page's hidden field or an `Idempotency-Key` header.
pub fn check_submission_id(id: &str) -> Result<SubmissionId, BodyError> {
    SubmissionId::parse(id).ok_or(BodyError::BadSubmissionId)
}

/// Parses a submission body by its content type, with the `Idempotency-Key` header (its bytes as sent)
/// for JSON clients.
pub fn parse_body(
    content_type: Option<&str>,
    idempotency_key: Option<&[u8]>,
    body: &[u8],
    form: Option<&FormDocument>,
) -> Result<RawInput, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    let Some(content_type) = content_type else {
        return Err(BodyError::UnsupportedMediaType(
            "the Content-Type header is missing; send application/x-www-form-urlencoded or application/json".into(),
        ));
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.trim().eq_ignore_ascii_case("charset") {
                let charset = value.trim().trim_matches('"');
                if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                    return Err(BodyError::Charset(charset.to_owned()));
                }
            }
        }
    }
    let mut raw = match media.as_str() {
        "application/x-www-form-urlencoded" => parse_urlencoded(body)?,
        "application/json" => parse_json(body)?,
        other => {
            return Err(BodyError::UnsupportedMediaType(format!(
            "the content type {other:?} is not supported; send application/x-www-form-urlencoded or application/json"
        )))
        }
    };
    let posted_ids = raw.values.remove(SUBMISSION_ID_FIELD).unwrap_or_default();
    if posted_ids.len() > 1 {
        return Err(BodyError::DuplicateField(SUBMISSION_ID_FIELD.into()));
    }
    let header = idempotency_key
        .map(|bytes| std::str::from_utf8(bytes).map(str::trim).map_err(|_| BodyError::IdempotencyKeyNotUtf8))
        .transpose()?;
    raw.submission_id = match (header, posted_ids.first().map(String::as_str)) {
        (Some(header), Some(posted)) if header != posted => return Err(BodyError::SubmissionIdMismatch),
        (Some(id), _) | (None, Some(id)) => Some(check_submission_id(id)?),
        (None, None) => None,
    };
    if let Some(form) = form {
        for field in &form.fields {
            if !field.kind.is_multiple() && raw.values(field.key.as_str()).len() > 1 {
                return Err(BodyError::DuplicateField(field.key.to_string()));
            }
        }
    }
    Ok(raw)
}

/// Parses `application/x-www-form-urlencoded` strictly: bad escapes and invalid UTF-8 are refused, never
/// replaced with U+FFFD.
pub fn parse_urlencoded(body: &[u8]) -> Result<RawInput, BodyError> {
    let mut raw = RawInput::default();
    let mut pairs = 0usize;
    for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        pairs += 1;
        if pairs > MAX_PAIRS {
            return Err(BodyError::TooManyFields);
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &b""[..]),
        };
        let name = decode_component(name).map_err(|e| match e {
            Decode::Escape => BodyError::Malformed("a field name has a malformed %-escape".into()),
            Decode::Utf8 => BodyError::InvalidUtf8("a field name".into()),
        })?;
        let value = decode_component(value).map_err(|e| match e {
            Decode::Escape => {
                BodyError::Malformed(format!("the value of `{}` has a malformed %-escape", printable(&name)))
            }
            Decode::Utf8 => BodyError::InvalidUtf8(format!("the value of `{}`", printable(&name))),
        })?;
        raw.values.entry(name).or_default().push(value);
    }
    Ok(raw)
}

enum Decode {
    Escape,
    Utf8,
}

fn decode_component(bytes: &[u8]) -> Result<String, Decode> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(hi), Some(lo)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                else {
                    return Err(Decode::Escape);
                };
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Decode::Utf8)
}

/// A field name cut short and stripped of control characters, for error messages.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// Parses a JSON object of field key to value: a string, number, boolean or null (absent), or an array
/// of those for multiple choice. A key sent twice is refused. A number is kept as written (`12.50`,
/// `1e400`): its field's parser judges it, so one out of range is a 422 at its field, as it is posted
/// urlencoded, never a 400 for the whole body.
pub fn parse_json(body: &[u8]) -> Result<RawInput, BodyError> {
    let object: UniqueObject = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("the body is not a JSON object of field values: {e}")))?;
    if object.0.len() > MAX_PAIRS {
        return Err(BodyError::TooManyFields);
    }
    let mut raw = RawInput::default();
    for (key, value) in object.0 {
        let text = value.get().trim();
        let values = if text.starts_with('[') {
            let items: Vec<Box<RawValue>> = serde_json::from_str(text)
                .map_err(|e| BodyError::Malformed(format!("the body is not a JSON object of field values: {e}")))?;
            items
                .iter()
                .map(|item| json_scalar(&key, item))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect()
        } else {
            json_scalar(&key, &value)?.into_iter().collect()
        };
        raw.values.insert(key, values);
    }
    Ok(raw)
}

fn json_scalar(key: &str, value: &RawValue) -> Result<Option<String>, BodyError> {
    use serde_json::Value;
    let text = value.get().trim();
    // A number as written: the JSON grammar was checked while reading, its range is the field's to judge.
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(Some(text.to_owned()));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| BodyError::Malformed(format!("the body is not a JSON object of field values: {e}")))?;
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) => Ok(Some(s)),
        Value::Array(_) | Value::Object(_) => Err(BodyError::Malformed(format!(
            "the value of `{}` must be a string, number, boolean, or an array of those",
            printable(key)
        ))),
    }
}

/// A JSON object whose keys are checked for repeats while it is read; its values are kept as written.
struct UniqueObject(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                let mut entries: Vec<(String, Box<RawValue>)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    if entries.len() >= MAX_PAIRS {
                        return Err(serde::de::Error::custom(format!("more than {MAX_PAIRS} fields")));
                    }
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "the field `{}` was sent more than once",
                            printable(&key)
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(UniqueObject(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The messages at each bad field, in form order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    /// The message at `key`, if that field is bad.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, m)| m.as_str())
    }
}

/// Checks the reviewer's input against the form. Only the form's fields reach the context; a field left
/// empty is absent from it.
pub fn validate(form: Option<&FormDocument>, raw: &RawInput) -> Result<Context, FieldErrors> {
    let mut context = Context::default();
    let mut errors = FieldErrors::default();
    for field in form.map(|f| f.fields.as_slice()).unwrap_or(&[]) {
        match check_field(field, raw.values(field.key.as_str())) {
            Ok(Some(value)) => context.insert(field.key.clone(), value),
            Ok(None) => {}
            Err(message) => errors.0.push((field.key.to_string(), message)),
        }
    }
    if errors.0.is_empty() {
        Ok(context)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;

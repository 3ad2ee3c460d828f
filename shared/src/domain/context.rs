//! The run's context: a flat map of keys to typed values, as the workflow passes it in.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest context key, in characters.
pub const MAX_KEY_CHARS: usize = 50;

/// A context key: 1 to 50 characters of `A-Z a-z 0-9 . _ - :` (dots are only a naming convention).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContextKey(String);

impl ContextKey {
    /// Parses a key, saying what is wrong with a bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        let chars = text.chars().count();
        if chars > MAX_KEY_CHARS {
            return Err(format!("is {chars} characters long; a context key has at most {MAX_KEY_CHARS}"));
        }
        if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))) {
            return Err(format!("contains {bad:?}; a context key has only letters, digits and . _ - :"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContextKey {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<ContextKey> for String {
    fn from(key: ContextKey) -> String {
        key.0
    }
}

impl fmt::Display for ContextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One scalar context value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// Boolean.
    Bool(bool),
    /// Byte, Short, Integer or Long.
    Integer(i64),
    /// Decimal, Float or Double (always finite).
    Number(f64),
    /// String, Url, DateTime or Blob (as text).
    String(String),
}

impl Scalar {
    fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        use serde_json::Value;
        match value {
            Value::Bool(b) => Ok(Self::Bool(*b)),
            Value::String(s) => Ok(Self::String(s.clone())),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Self::Integer(i))
                } else if n.is_u64() {
                    Err("is an integer too large for a Long".into())
                } else {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(Self::Number)
                        .ok_or_else(|| "is not a finite number".into())
                }
            }
            Value::Null => Err("is null; a context value must be a scalar or an array of one type".into()),
            Value::Object(_) => Err("is an object; a context value must be a scalar or an array of one type".into()),
            Value::Array(_) => Err("is a nested array; arrays hold scalars only".into()),
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Self::Bool(_) => 0,
            Self::Integer(_) | Self::Number(_) => 1,
            Self::String(_) => 2,
        }
    }

    /// The value as a reviewer reads it.
    pub fn display(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Integer(i) => i.to_string(),
            Self::Number(f) => f.to_string(),
            Self::String(s) => s.clone(),
        }
    }
}

/// A context value: a scalar, or an array of scalars of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// A single value.
    Scalar(Scalar),
    /// Several values of one type.
    Array(Vec<Scalar>),
}

impl ContextValue {
    /// Parses a JSON value, saying what is wrong with a bad one.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Array(items) => {
                let scalars = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Scalar::from_json(item).map_err(|e| format!("[{i}] {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(first) = scalars.first() {
                    if let Some(i) = scalars.iter().position(|s| s.kind() != first.kind()) {
                        return Err(format!("[{i}] differs in type from [0]; an array holds values of one type"));
                    }
                }
                Ok(Self::Array(scalars))
            }
            other => Scalar::from_json(other).map(Self::Scalar),
        }
    }

    /// A string value.
    pub fn string(text: impl Into<String>) -> Self {
        Self::Scalar(Scalar::String(text.into()))
    }

    /// The value's parts as a reviewer reads them (one for a scalar).
    pub fn display_parts(&self) -> Vec<String> {
        match self {
            Self::Scalar(s) => vec![s.display()],
            Self::Array(items) => items.iter().map(Scalar::display).collect(),
        }
    }
}

/// The run's context: keys to values, in key order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Context(BTreeMap<ContextKey, ContextValue>);

impl Context {
    /// Parses a JSON object; the error names the offending key (`context.<key>`-relative).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, (String, String)> {
        let serde_json::Value::Object(map) = value else {
            return Err((String::new(), "must be a JSON object of key to value".into()));
        };
        let mut context = BTreeMap::new();
        for (key, value) in map {
            let parsed = ContextKey::parse(key).map_err(|e| (key.clone(), format!("key {e}")))?;
            let value = ContextValue::from_json(value).map_err(|e| (key.clone(), format!("value {e}")))?;
            context.insert(parsed, value);
        }
        Ok(Self(context))
    }

    /// The value at `key`.
    pub fn get(&self, key: &ContextKey) -> Option<&ContextValue> {
        self.0.get(key)
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &ContextKey) -> bool {
        self.0.contains_key(key)
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub fn insert(&mut self, key: ContextKey, value: ContextValue) {
        self.0.insert(key, value);
    }

    /// This context with every entry of `winner` laid over it.
    pub fn merged(&self, winner: &Context) -> Context {
        let mut merged = self.0.clone();
        merged.extend(winner.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self(merged)
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ContextKey, &ContextValue)> {
        self.0.iter()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_bounds() {
        assert!(ContextKey::parse(&"a".repeat(50)).is_ok());
        assert!(ContextKey::parse(&"a".repeat(51)).unwrap_err().contains("51 characters"));
        assert!(ContextKey::parse("").is_err());
        assert!(ContextKey::parse("a b").unwrap_err().contains("' '"));
        assert!(ContextKey::parse("../x").is_err());
        assert!(ContextKey::parse("order.id").is_ok());
    }

    #[test]
    fn values_are_scalars_or_arrays_of_one_type() {
        assert!(ContextValue::from_json(&json!(1)).is_ok());
        assert!(ContextValue::from_json(&json!([1, 2.5])).is_ok());
        assert!(ContextValue::from_json(&json!(null)).is_err());
        assert!(ContextValue::from_json(&json!({"a": 1})).is_err());
        assert!(ContextValue::from_json(&json!([[1]])).is_err());
        assert!(ContextValue::from_json(&json!([1, "a"])).unwrap_err().contains("[1]"));
        assert!(ContextValue::from_json(&json!(u64::MAX)).is_err());
    }

    #[test]
    fn context_round_trips_as_plain_json() {
        let value = json!({"order.id": "A-1001", "order.amount": 120.5, "n": 3, "ok": true, "tags": ["a", "b"]});
        let context = Context::from_json(&value).unwrap();
        assert_eq!(serde_json::to_value(&context).unwrap(), value);
    }

    #[test]
    fn merge_lets_the_winner_win() {
        let base = Context::from_json(&json!({"a": 1, "b": 2})).unwrap();
        let winner = Context::from_json(&json!({"b": 3})).unwrap();
        assert_eq!(serde_json::to_value(base.merged(&winner)).unwrap(), json!({"a": 1, "b": 3}));
    }
}

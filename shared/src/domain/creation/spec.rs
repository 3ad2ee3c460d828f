//! The link-creation input as sent: its wire shape, and the named refusal of an input that does not fit it.

use serde::Deserialize;

use crate::domain::error::ConfigError;
use crate::domain::form::FormSpec;
use crate::domain::notify::NotifySpec;

/// The link-creation input as sent (camelCase JSON); unknown settings are refused, not ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreationSpec {
    pub(super) environment_id: Option<String>,
    pub(super) tier: Option<String>,
    pub(super) correlation_id: Option<String>,
    pub(super) run_available_until: Option<String>,
    pub(super) rule_set_id: Option<String>,
    pub(super) url_expiration_hours: Option<serde_json::Number>,
    pub(super) max_url_uses: Option<serde_json::Number>,
    pub(super) generated_url_context_key: Option<String>,
    pub(super) form_document: Option<FormSpec>,
    pub(super) context: Option<serde_json::Value>,
    pub(super) secret_keys: Option<Vec<String>>,
    pub(super) action: Option<serde_json::Value>,
    pub(super) on_timeout: Option<OnTimeoutSpec>,
    pub(super) idempotency_key: Option<String>,
    pub(super) reviewers: Option<Vec<ReviewerSpec>>,
    pub(super) quorum: Option<QuorumSpec>,
    pub(super) requested_by: Option<String>,
    pub(super) remind: Option<RemindSpec>,
    pub(super) notify: Option<NotifySpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RemindSpec {
    pub(super) after: Option<serde_json::Number>,
    pub(super) to: Option<Vec<String>>,
    pub(super) rule_set_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuorumSpec {
    pub(super) approvals: Option<serde_json::Number>,
    pub(super) field: Option<String>,
    pub(super) approve: Option<String>,
    pub(super) reject: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewerSpec {
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) notify: Option<NotifySpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct OnTimeoutSpec {
    pub(super) rule_set_id: Option<String>,
    pub(super) context: Option<serde_json::Value>,
}

/// Reads the input's shape, naming the setting of a wrong JSON type or an unknown setting by its path
/// (`maxUrlUses`, `formDocument.fields[2].minLength`); only a body that is not JSON at all (or not an
/// object) has no setting to name (`""`).
pub(super) fn parse_spec(input: &[u8]) -> Result<CreationSpec, ConfigError> {
    let mut reader = serde_json::Deserializer::from_slice(input);
    let spec = serde_path_to_error::deserialize(&mut reader)
        .map_err(|error| (setting_path(error.path()), error.into_inner()))
        .and_then(|spec| reader.end().map(|()| spec).map_err(|e| (String::new(), e)));
    spec.map_err(|(path, inner)| {
        // serde's message without its " at line 1 column N": the path says where.
        let mut message = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        if let Some(stripped) = message.strip_suffix(&position) {
            message = stripped.to_owned();
        }
        if path.is_empty() {
            ConfigError::new("", format!("the input is not a valid link-creation input: {message}"))
        } else {
            ConfigError::new(path, message)
        }
    })
}

/// `formDocument.fields[2].minLength` from serde_path_to_error's path (`.` for the root is `""`).
fn setting_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    // The input as an array (serde reads a struct from one): no setting to name.
    if matches!(path.iter().next(), Some(Segment::Seq { .. })) {
        return out;
    }
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

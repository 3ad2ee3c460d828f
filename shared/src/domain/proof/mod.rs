//! Proof of what was approved: the document a reviewer was shown and the action it asked about, bound by
//! one digest every continuation carries; what the reviewer changed of the values proposed; and the
//! signed receipt a consumer verifies without calling the product.

mod changes;
pub mod receipt;
mod shown;

pub use changes::{changes, Change};
pub use receipt::verify as verify_receipt;
pub use shown::{
    action_lines, check_action, shown, shown_details, shown_field, write_shown, Shown, DEFAULT_TITLE, MAX_ACTION_BYTES,
};

pub use crate::domain::canonical::{canonical, sha256_digest, DIGEST_PREFIX};

use crate::domain::canonical::write_canonical;
use crate::domain::model::Intervention;

/// The digest a continuation carries: SHA-256 of the canonical JSON of `{"action": …, "shown": …}`
/// (`action` null when none was given). A consumer recomputes it from its own copy of the action and the
/// continuation's `shown`.
pub fn decision_digest(action: Option<&serde_json::Value>, shown: &serde_json::Value) -> String {
    let mut canonical_shown = Vec::with_capacity(4096);
    write_canonical(shown, &mut canonical_shown);
    digest_of(action, &canonical_shown)
}

/// [`decision_digest`] of a presented document already in canonical form.
pub fn shown_digest(action: Option<&serde_json::Value>, shown: &Shown) -> String {
    digest_of(action, shown.canonical_json().as_bytes())
}

fn digest_of(action: Option<&serde_json::Value>, canonical_shown: &[u8]) -> String {
    // The canonical JSON of that object, written around the two without copying them ("action" < "shown").
    let mut bytes = Vec::with_capacity(canonical_shown.len() + 256);
    bytes.extend_from_slice(b"{\"action\":");
    write_canonical(action.unwrap_or(&serde_json::Value::Null), &mut bytes);
    bytes.extend_from_slice(b",\"shown\":");
    bytes.extend_from_slice(canonical_shown);
    bytes.push(b'}');
    sha256_digest(&bytes)
}

/// The digest of `intervention`'s decision: the one kept at creation, or, for an intervention stored
/// before it was kept, computed from `shown` (its presented document).
pub fn intervention_digest(intervention: &Intervention, shown: &Shown) -> String {
    match &intervention.decision_digest {
        Some(digest) => digest.clone(),
        None => shown_digest(intervention.action.as_ref(), shown),
    }
}

/// Checks a received continuation (its JSON) against the consumer's own copy of the action: its `digest`
/// must be that of `own_action` and the continuation's `shown`. A mismatch means the reviewer decided on
/// another action (or another document) than the one the consumer is about to act on.
pub fn check_decided_on(
    continuation: &serde_json::Value,
    own_action: Option<&serde_json::Value>,
) -> Result<(), String> {
    let shown = continuation.get("shown").unwrap_or(&serde_json::Value::Null);
    let expected = decision_digest(own_action, shown);
    match continuation.get("digest").and_then(serde_json::Value::as_str) {
        Some(digest) if digest == expected => Ok(()),
        Some(digest) => Err(format!(
            "the digest {digest} is not {expected}, the digest of this action and the document shown: the reviewer decided on something else"
        )),
        None => Err("the continuation has no digest".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_is_the_same_in_any_key_order() {
        let a = json!({"refund": {"order": "A-1001", "amount": "120.50", "currency": "EUR"}});
        let b: serde_json::Value =
            serde_json::from_str(r#"{"refund":{"currency":"EUR","amount":"120.50","order":"A-1001"}}"#).unwrap();
        let shown = json!({"title": "Refund", "fields": []});
        assert_eq!(decision_digest(Some(&a), &shown), decision_digest(Some(&b), &shown));
        let bound =
            |action: Option<&serde_json::Value>| sha256_digest(&canonical(&json!({"action": action, "shown": shown})));
        assert_eq!(decision_digest(Some(&a), &shown), bound(Some(&a)));
        assert_eq!(decision_digest(None, &shown), bound(None));
        assert_ne!(decision_digest(Some(&a), &shown), decision_digest(None, &shown));
        let altered = json!({"refund": {"order": "A-1001", "amount": "1200.50", "currency": "EUR"}});
        assert_ne!(decision_digest(Some(&a), &shown), decision_digest(Some(&altered), &shown));
        let continuation = json!({"shown": shown, "digest": decision_digest(Some(&a), &shown)});
        assert_eq!(check_decided_on(&continuation, Some(&b)), Ok(()));
        assert!(check_decided_on(&continuation, Some(&altered)).unwrap_err().contains("decided on something else"));
        let mut reshown = continuation.clone();
        reshown["shown"]["title"] = json!("Something else");
        assert!(check_decided_on(&reshown, Some(&a)).is_err());
    }

    #[test]
    fn canonical_json_is_rfc_8785() {
        // RFC 8785 §3.2.2's number examples and its key order (UTF-16 code units).
        let value: serde_json::Value =
            serde_json::from_str(r#"{"b":[1E+30,4.50,2e-3,0.000001,1e-7],"a":"\u20ac","\u00e9":1}"#).unwrap();
        assert_eq!(
            String::from_utf8(canonical(&value)).unwrap(),
            "{\"a\":\"€\",\"b\":[1e+30,4.5,0.002,0.000001,1e-7],\"é\":1}"
        );
        assert_eq!(sha256_digest(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

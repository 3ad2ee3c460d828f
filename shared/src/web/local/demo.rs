//! The demo intervention the local server can create: a refund approval with one field of every type.

use serde_json::json;

use crate::domain::time::Timestamp;

/// The context key the demo's link is written to.
pub const DEMO_LINK_KEY: &str = "approval.url";

/// The one-click demo: a deploy approval whose only required field is the decision, sent to the reviewer
/// by email and Slack (the mailbox page shows both; the email's buttons open confirm pages).
pub fn demo_one_click_input(now: Timestamp) -> serde_json::Value {
    json!({
        "environmentId": "local",
        "tier": "Dedicated",
        "correlationId": "demo-deploy-7c1e",
        "runAvailableUntil": now.plus_millis(7 * 24 * 3_600_000).to_rfc3339(),
        "ruleSetId": "deploy-continue",
        "urlExpirationHours": 24,
        "generatedUrlContextKey": DEMO_LINK_KEY,
        "reviewers": [
            { "id": "ann@example.com", "name": "Ann Example", "notify": { "email": ["ann@example.com"], "slack": "U0123ABCDEF" } },
            { "id": "bob@example.com", "name": "Bob Example" }
        ],
        "requestedBy": "bob@example.com",
        "formDocument": {
            "title": "Deploy checkout v2.14 to production?",
            "prompt": "The release passed staging. **Approve** to roll it out to every region.",
            "show": [
                { "key": "release.version", "label": "Release" },
                { "key": "release.changes", "label": "Changes" },
                { "key": "release.notes", "label": "Release notes", "format": { "type": "link" } }
            ],
            "fields": [
                { "key": "decision", "label": "Decision", "type": "choice", "required": true,
                  "options": [ { "value": "approve", "label": "Approve" }, { "value": "reject", "label": "Reject" } ] },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500 }
            ]
        },
        "context": { "release.version": "2.14.0", "release.changes": 37, "release.notes": "https://example.com/releases/2.14.0" },
        "action": { "deploy": { "service": "checkout", "version": "2.14.0", "to": "production" } }
    })
}

/// The demo intervention: a refund approval with one field of every type.
pub fn demo_input(now: Timestamp) -> serde_json::Value {
    json!({
        "environmentId": "local",
        "tier": "Dedicated",
        "correlationId": "demo-0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10",
        "runAvailableUntil": now.plus_millis(7 * 24 * 3_600_000).to_rfc3339(),
        "ruleSetId": "refund-continue",
        "urlExpirationHours": 24,
        "maxUrlUses": 1,
        "generatedUrlContextKey": DEMO_LINK_KEY,
        "formDocument": {
            "title": "Approve refund",
            "prompt": "Refund **120.50 EUR** to the customer for order *A-1001*?\n\nCheck the amount before you approve.",
            "show": [
                { "key": "order.id", "label": "Order" },
                { "key": "order.amount", "label": "Order total", "format": { "type": "amount", "currency": "EUR", "decimals": 2 } },
                { "key": "customer.name", "label": "Customer" }
            ],
            "fields": [
                { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
                { "key": "refund.amount", "label": "Amount (EUR)", "type": "decimal", "min": 0, "max": 1000, "prefill": "order.amount" },
                { "key": "refund.items", "label": "Items refunded", "type": "integer", "min": 1, "max": 20, "default": 1 },
                { "key": "refund.reasons", "label": "Reasons", "type": "choice", "multiple": true, "options": ["damaged", "late", "wrong item"] },
                { "key": "refund.date", "label": "Refund date", "type": "date" },
                { "key": "followUp.at", "label": "Follow up at", "type": "datetime" },
                { "key": "reviewer.email", "label": "Your email", "type": "email", "help": "We send a copy of the decision here." },
                { "key": "evidence.url", "label": "Evidence link", "type": "url" },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500, "help": "Shown to the customer." },
                { "key": "confirmed", "label": "I checked the order history", "type": "boolean", "required": true }
            ]
        },
        "context": { "order.id": "A-1001", "order.amount": 120.5, "customer.name": "Ada Lovelace", "customer.email": "ada@example.com" },
        "secretKeys": ["customer.email"],
        "action": { "refund": { "order": "A-1001", "amount": "120.50", "currency": "EUR" } }
    })
}

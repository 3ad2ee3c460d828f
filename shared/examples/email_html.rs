//! Writes the HTML part of a sample email to a reviewer (the contract's example with named reviewers,
//! labelled values, an action and one-click buttons; its prompt tries a remote image and raw HTML) to the
//! path given, for the browser test that opens it in Chromium (tests/browser/email.test.mjs).
//!
//!   cargo run -p human-intervention --example email_html -- target/email.html

use human_intervention::channels::email::html_body;
use human_intervention::domain::creation::NewIntervention;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::message::compose::compose;
use human_intervention::domain::message::{Button, ButtonStyle, MessageKind};
use human_intervention::domain::model::Intervention;
use human_intervention::domain::time::{Clock, SystemClock};

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: email_html <file.html>")?;
    let now = SystemClock.now();
    let mut input: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/examples/reviewers.json")).map_err(|e| e.to_string())?;
    input["runAvailableUntil"] = serde_json::json!(now.plus_millis(24 * 3_600_000).to_rfc3339());
    input["requestedBy"] = serde_json::json!("ann@example.com");
    input["action"] = serde_json::json!({"refund": {"orderId": "A-1001", "amount": "120.50", "currency": "EUR"}});
    input["formDocument"]["prompt"] = serde_json::json!(
        "Refund **120.50 EUR** to the customer?\n\nThe order was returned on 2 December; see the \
         [return policy](https://shop.example/returns). ![tracking pixel](https://remote.example/pixel.png) \
         <img src=\"https://remote.example/raw.png\">"
    );
    input["formDocument"]["show"] = serde_json::json!([
        {"key": "order.id", "label": "Order"},
        {"key": "order.amount", "label": "Amount", "format": {"type": "amount", "currency": "EUR", "decimals": 2}}
    ]);
    let new = NewIntervention::parse(input.to_string().as_bytes(), now).map_err(|e| e.to_string())?;
    let intervention = Intervention::new(InterventionId::random().map_err(|e| e.to_string())?, new, now);
    let link = |option: &str| format!("https://approvals.example/i/v3.k1.{option}-sample");
    let buttons = vec![
        Button { label: "Approve".into(), url: link("approve"), style: ButtonStyle::Primary },
        Button { label: "Reject".into(), url: link("reject"), style: ButtonStyle::Danger },
    ];
    let content = compose(&intervention, Some(1), MessageKind::Request, &link("form"), buttons);
    std::fs::write(&path, html_body(&content).into_string()).map_err(|e| format!("{path}: {e}"))
}

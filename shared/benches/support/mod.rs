//! What the handler benches share: a 20-field form on the in-memory store, its link, a valid body for it,
//! and the production log formatting (JSON lines) written to a sink, so a timed operation pays for its logs.

#![allow(dead_code)]

use std::sync::Arc;

use human_intervention::domain::field::{initial_values, Field};
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::model::Intervention;
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::MemoryStore;
use human_intervention::service::{CreatedLink, Service, SubmitRequest};
use human_intervention::web::pages::{self, FieldView, FormPage};
use serde_json::{json, Value};

/// Where the bench's links point.
pub const BASE_URL: &str = "https://links.example.com";
/// The content type of a page's post.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The link-creation input with a 20-field form (every field type, prefills, defaults, a pattern, a
/// drop-down) and `max_uses` uses.
pub fn input_20_fields(max_uses: u32) -> Value {
    let until = SystemClock.now().plus_millis(7 * 24 * 3_600_000).to_rfc3339();
    json!({
        "environmentId": "bench",
        "tier": "Shared",
        "correlationId": "bench-0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10",
        "runAvailableUntil": until,
        "ruleSetId": "refund-continue",
        "urlExpirationHours": 24,
        "maxUrlUses": max_uses,
        "generatedUrlContextKey": "approval.url",
        "formDocument": {
            "title": "Approve refund",
            "prompt": "Refund **120.50 EUR** to the customer for order *A-1001*?\n\nCheck the amount before you approve.",
            "show": ["order.id", "order.amount", "customer.name"],
            "fields": [
                { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
                { "key": "refund.amount", "label": "Amount (EUR)", "type": "decimal", "min": 0, "max": 1000, "prefill": "order.amount" },
                { "key": "refund.items", "label": "Items refunded", "type": "integer", "min": 1, "max": 20, "default": 1 },
                { "key": "refund.reasons", "label": "Reasons", "type": "choice", "multiple": true, "options": ["damaged", "late", "wrong item", "other"] },
                { "key": "refund.date", "label": "Refund date", "type": "date" },
                { "key": "followUp.at", "label": "Follow up at", "type": "datetime" },
                { "key": "reviewer.email", "label": "Your email", "type": "email", "help": "We send a copy of the decision here." },
                { "key": "evidence.url", "label": "Evidence link", "type": "url" },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500, "help": "Shown to the customer." },
                { "key": "confirmed", "label": "I checked the order history", "type": "boolean", "required": true },
                { "key": "customer.ref", "label": "Customer reference", "type": "text", "pattern": "[A-Z]-[0-9]{4}", "required": true },
                { "key": "priority", "label": "Priority", "type": "choice", "options": ["low", "normal", "high", "urgent", "critical", "blocker"], "default": "normal" },
                { "key": "refund.method", "label": "Refund method", "type": "choice", "options": ["card", "transfer", "voucher"] },
                { "key": "shipping.cost", "label": "Shipping refunded (EUR)", "type": "decimal", "min": 0, "max": 100 },
                { "key": "restock", "label": "Put the items back in stock", "type": "boolean" },
                { "key": "ticket.id", "label": "Support ticket", "type": "integer", "min": 1, "max": 100000000 },
                { "key": "manager.email", "label": "Manager's email", "type": "email" },
                { "key": "summary", "label": "Summary", "type": "text", "minLength": 3, "maxLength": 200, "required": true },
                { "key": "due.date", "label": "Due date", "type": "date" },
                { "key": "tags", "label": "Tags", "type": "choice", "multiple": true, "options": ["vip", "repeat", "fraud-check"] }
            ]
        },
        "context": { "order.id": "A-1001", "order.amount": 120.5, "customer.name": "Ada Lovelace", "customer.email": "ada@example.com" },
        "secretKeys": ["customer.email"]
    })
}

/// A valid page post for [`input_20_fields`] (every field filled), with this submission id.
pub fn body_20_fields(submission_id: &str) -> String {
    format!(
        "_submissionId={submission_id}&decision=approve&refund.amount=120.50&refund.items=2\
         &refund.reasons=damaged&refund.reasons=late&refund.date=2026-11-20&followUp.at=2026-11-27T09%3A30\
         &reviewer.email=reviewer%40example.com&evidence.url=https%3A%2F%2Fexample.com%2Fphotos%2F1\
         &note=Refund+approved%2C+parcel+arrived+damaged.&confirmed=true&customer.ref=A-1001&priority=high\
         &refund.method=card&shipping.cost=4.95&restock=true&ticket.id=48213&manager.email=boss%40example.com\
         &summary=Damaged+parcel&due.date=2026-12-01&tags=vip"
    )
}

/// The bench's signing keys.
pub fn keys() -> Arc<LinkKeys> {
    Arc::new(LinkKeys::new(LinkKey::new("bench", vec![7; 32]).expect("key"), vec![]).expect("keys"))
}

/// A service on a fresh in-memory store.
pub fn memory_service() -> (Service, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let service = Service::new(store.clone(), keys(), Arc::new(SystemClock), BASE_URL);
    (service, store)
}

/// A link's token (the path segment after `/i/`).
pub fn token_of(created: &CreatedLink) -> String {
    let context = serde_json::to_value(&created.context).expect("context");
    let link = context["approval.url"].as_str().expect("a link");
    link.strip_prefix(&format!("{BASE_URL}/i/")).expect("a link under the base URL").to_owned()
}

/// Creates the 20-field intervention; returns its token and record.
pub async fn create_20_fields(service: &Service, max_uses: u32) -> (String, Intervention) {
    let created = service.create(input_20_fields(max_uses).to_string().as_bytes()).await.expect("created");
    let id = InterventionId::parse(&created.intervention_id).expect("an id");
    let intervention = service.store().get(&id).await.expect("read").expect("stored");
    (token_of(&created), intervention)
}

/// The form page of `intervention`, exactly as the http layer renders a first view.
pub fn render_form(intervention: &Intervention, submission_id: &str) -> maud::Markup {
    let form = intervention.form.as_deref().expect("a form");
    let shown = human_intervention::domain::proof::shown_details(intervention)
        .map(|(shown, v)| (shown.label(), shown.display_or_raw(v), false))
        .collect();
    let fields = form
        .fields
        .iter()
        .map(|field: &Field| FieldView { field, values: initial_values(field, &intervention.context), error: None })
        .collect();
    pages::form_page(&FormPage {
        title: &form.title,
        prompt: form.prompt.as_deref(),
        shown,
        action: vec![],
        fields,
        submission_id,
        expires_at: intervention.expires_at,
        has_errors: false,
        reviewer: None,
        quorum: None,
        confirm: None,
    })
}

/// A page post as the http layer hands it to the service.
pub fn form_request(body: &str) -> SubmitRequest<'_> {
    SubmitRequest { content_type: Some(FORM_CONTENT_TYPE), idempotency_key: None, body: body.as_bytes() }
}

/// Installs the production log format (flat JSON lines, `info`) writing to a sink: every timed
/// operation formats its log lines as it would in a Lambda function.
pub fn production_logs_to_sink() {
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    let _ = human_intervention::telemetry::json_subscriber(std::io::sink, filter).try_init();
}

/// Creates the 20-field intervention for a quorum of `reviewers` reviewers who must all approve; returns
/// each reviewer's token.
pub async fn create_quorum(service: &Service, reviewers: u32) -> Vec<String> {
    let mut input = input_20_fields(1);
    input.as_object_mut().expect("an object").remove("maxUrlUses");
    // Every vote's input must fit the deciding continuation: the pattern field gets a length limit.
    input["formDocument"]["fields"][10]["maxLength"] = json!(50);
    input["reviewers"] =
        (0..reviewers).map(|i| json!({"id": format!("r{i}"), "name": format!("Reviewer {i}")})).collect();
    input["quorum"] = json!({"approvals": reviewers, "field": "decision", "approve": "approve", "reject": "reject"});
    let created = service.create(input.to_string().as_bytes()).await.expect("created");
    let links = serde_json::to_value(&created.context).expect("context")["approval.url"].clone();
    let links = links.as_object().expect("an object of reviewer id to link");
    links.values().map(|link| link.as_str().and_then(|l| l.rsplit('/').next()).expect("a link").to_owned()).collect()
}

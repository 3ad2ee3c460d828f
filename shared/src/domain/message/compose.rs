//! A message's words, composed from the intervention as its page shows them: one [`MessageContent`] that
//! every channel renders, so email, Slack and Teams never say something the form does not.

use super::{Button, MessageContent, MessageKind};
use crate::domain::model::Intervention;
use crate::domain::proof::{action_lines, shown_details, DEFAULT_TITLE};
use crate::domain::time::Timestamp;

/// The content of a message to `reviewer` (an index into the intervention's reviewers; `None` for the
/// single link's recipients): the title, the prompt, the shown values under their labels and formats
/// (secret keys never), the action, who asked, when the link expires, the form's link and the buttons.
pub fn compose(
    intervention: &Intervention,
    reviewer: Option<usize>,
    kind: MessageKind,
    open_url: &str,
    buttons: Vec<Button>,
) -> MessageContent {
    let form = intervention.form.as_deref();
    let name_of = |id: &str| intervention.reviewers.iter().find(|r| r.id == id).map(|r| r.name.clone());
    MessageContent {
        kind,
        title: form.map_or(DEFAULT_TITLE, |f| f.title.as_str()).to_owned(),
        prompt: form.and_then(|f| f.prompt.clone()),
        details: shown_details(intervention)
            .map(|(shown, value)| (shown.label().to_owned(), shown.display_or_raw(value).join(", ")))
            .collect(),
        action: intervention.action.as_ref().map(action_lines).unwrap_or_default(),
        asked_by: intervention.requested_by.as_deref().and_then(name_of),
        reviewer_name: reviewer.and_then(|i| intervention.reviewers.get(i)).map(|r| r.name.clone()),
        expires_at: intervention.expires_at,
        open_url: open_url.to_owned(),
        buttons,
    }
}

/// How an intervention ended, as a decided message says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending<'a> {
    /// Approved (a quorum's decision, or an answer that approved), by whom if named.
    Approved(Option<&'a str>),
    /// Rejected, by whom if named.
    Rejected(Option<&'a str>),
    /// Answered (a form without a verdict), by whom if named.
    Answered(Option<&'a str>),
    /// The link ran out unanswered.
    Expired,
    /// The run was cancelled.
    Cancelled,
}

/// The line a decided message ends with: "Approved by Ann Example, 14:02 UTC", "Expired, 14:02 UTC". The
/// date is added (`14:02 UTC, 8 Dec 2026`) when `at` is not on the UTC day the message was sent (`sent`).
pub fn closing_line(ending: Ending, at: Timestamp, sent: Timestamp) -> String {
    let (what, by) = match ending {
        Ending::Approved(by) => ("Approved", by),
        Ending::Rejected(by) => ("Rejected", by),
        Ending::Answered(by) => ("Answered", by),
        Ending::Expired => ("Expired", None),
        Ending::Cancelled => ("Cancelled", None),
    };
    // "8 Dec 2026, 14:02 UTC": the day and the time, as every page writes an instant.
    let human = at.to_human();
    let (day, time) = human.split_once(", ").unwrap_or(("", human.as_str()));
    let same_day = at.millis().div_euclid(86_400_000) == sent.millis().div_euclid(86_400_000);
    let when = if same_day { time.to_owned() } else { format!("{time}, {day}") };
    match by {
        Some(name) => format!("{what} by {name}, {when}"),
        None => format!("{what}, {when}"),
    }
}

/// An intervention for the message tests: three named reviewers (Ann asked), labelled and formatted
/// shown values, a secret key and an action.
#[cfg(test)]
pub(crate) fn sample_intervention() -> Intervention {
    use crate::domain::creation::NewIntervention;
    use crate::domain::id::InterventionId;
    let now = Timestamp::parse_rfc3339("2026-12-07T13:02:00Z").unwrap();
    let input = serde_json::json!({
        "environmentId": "prod-eu", "tier": "Shared", "correlationId": "run-1",
        "runAvailableUntil": "2026-12-08T12:00:00Z", "ruleSetId": "next", "urlExpirationHours": 1,
        "generatedUrlContextKey": "approval.url",
        "reviewers": [{"id": "ann@example.com", "name": "Ann Example"}, {"id": "bob@example.com", "name": "Bob Example"},
            {"id": "cy@example.com", "name": "Cy Example"}],
        "requestedBy": "ann@example.com",
        "formDocument": {
            "title": "Approve refund", "prompt": "Refund **120.50 EUR** to the customer?",
            "show": [{"key": "order.id", "label": "Order"},
                {"key": "order.amount", "label": "Amount", "format": {"type": "amount", "currency": "EUR", "decimals": 2}}],
            "fields": [{"key": "decision", "label": "Decision", "type": "choice", "required": true,
                "options": [{"value": "approve", "label": "Approve"}, {"value": "reject", "label": "Reject"}]}]
        },
        "context": {"order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com"},
        "secretKeys": ["customer.email"],
        "action": {"refund": {"amount": 120.5}}
    });
    let new = NewIntervention::parse(input.to_string().as_bytes(), now).expect("a valid input");
    Intervention::new(InterventionId::random().expect("an id"), new, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::ButtonStyle;

    #[test]
    fn the_message_says_what_the_page_shows_and_never_a_secret() {
        let intervention = sample_intervention();
        let button = Button { label: "Approve".into(), url: "https://x/i/a".into(), style: ButtonStyle::Primary };
        let content = compose(&intervention, Some(1), MessageKind::Request, "https://x/i/t", vec![button]);
        assert_eq!(content.title, "Approve refund");
        assert_eq!(content.prompt.as_deref(), Some("Refund **120.50 EUR** to the customer?"));
        assert_eq!(
            content.details,
            [("Order".to_owned(), "A-1001".to_owned()), ("Amount".into(), "120.50 EUR".into())]
        );
        let everything = format!("{content:?}");
        assert!(!everything.contains("a@example.com"), "a secret value reached the message: {everything}");
        assert_eq!(content.asked_by.as_deref(), Some("Ann Example"));
        assert_eq!(content.reviewer_name.as_deref(), Some("Bob Example"));
        assert_eq!(content.action, [("refund.amount".to_owned(), "120.5".to_owned())]);
        assert_eq!(content.expires_at, intervention.expires_at);
        assert_eq!(content.buttons.len(), 1);
        let single = compose(&intervention, None, MessageKind::Reminder, "https://x/i/t", vec![]);
        assert_eq!(single.reviewer_name, None);
    }

    #[test]
    fn a_closing_line_says_what_happened_when_with_the_date_only_on_another_day() {
        let sent = Timestamp::parse_rfc3339("2026-12-07T09:00:00Z").unwrap();
        let at = Timestamp::parse_rfc3339("2026-12-07T14:02:30Z").unwrap();
        assert_eq!(closing_line(Ending::Approved(Some("Ann Example")), at, sent), "Approved by Ann Example, 14:02 UTC");
        assert_eq!(closing_line(Ending::Rejected(None), at, sent), "Rejected, 14:02 UTC");
        assert_eq!(closing_line(Ending::Expired, at, sent), "Expired, 14:02 UTC");
        let next_day = at.plus_millis(86_400_000);
        assert_eq!(closing_line(Ending::Cancelled, next_day, sent), "Cancelled, 14:02 UTC, 8 Dec 2026");
        assert_eq!(
            closing_line(Ending::Answered(Some("Bob")), next_day, sent),
            "Answered by Bob, 14:02 UTC, 8 Dec 2026"
        );
    }
}

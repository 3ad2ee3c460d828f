//! A message in Teams: an Adaptive Card 1.4 in the body a channel's Workflows webhook takes (`{"type":
//! "message", "attachments": [one card]}`), with `Action.OpenUrl` buttons only (a webhook's card cannot call
//! back), at most 28 KB as sent.

use serde_json::{json, Value};

use super::markup::{convert, Dialect};
use super::{words, MessageError};
use crate::domain::message::{ButtonStyle, MessageContent};
use crate::ports::messages::TeamsCard;

/// The largest webhook body Teams takes (28 KB).
pub const MAX_CARD_BYTES: usize = 28 * 1024;
/// The card's schema version: what Teams renders on every client.
pub const CARD_VERSION: &str = "1.4";

/// An Adaptive Card TextBlock's Markdown: `**bold**`, `_italic_`, `[text](url)`, lists; the characters
/// that would start one of these in typed text backslash-escaped so it reads as typed (no other: the subset
/// has no headings, code or HTML, and an escape it does not need could show).
const CARD_MARKDOWN: Dialect = Dialect {
    escape,
    bold: "**",
    italic: "_",
    code: "",
    code_block: "",
    link: |url, text| format!("[{text}]({})", url.replace(' ', "%20").replace('(', "%28").replace(')', "%29")),
};

/// Text as a TextBlock shows it verbatim.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\*_[]".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The webhook body of `content`, refused by name over [`MAX_CARD_BYTES`].
pub fn render_teams(content: &MessageContent) -> Result<TeamsCard, MessageError> {
    let text = |text: &str| json!({"type": "TextBlock", "text": text, "wrap": true});
    let subtle =
        |t: &str| json!({"type": "TextBlock", "text": escape(t), "wrap": true, "isSubtle": true, "spacing": "Small"});
    let facts = |rows: &[(String, String)]| {
        let facts: Vec<Value> = rows.iter().map(|(k, v)| json!({"title": k, "value": v})).collect();
        json!({"type": "FactSet", "facts": facts})
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": escape(&content.title), "size": "Large", "weight": "Bolder", "wrap": true}),
    ];
    if let Some(lead) = words::lead(content) {
        body.push(subtle(&lead));
    }
    if let Some(prompt) = &content.prompt {
        body.push(text(&convert(prompt, &CARD_MARKDOWN)));
    }
    if !content.details.is_empty() {
        body.push(facts(&content.details));
    }
    if !content.action.is_empty() {
        body.push(json!({"type": "TextBlock", "text": words::ACTION, "weight": "Bolder", "wrap": true}));
        body.push(facts(&content.action));
    }
    if let Some(asked) = words::asked_by(content) {
        body.push(subtle(&asked));
    }
    body.push(subtle(&words::expiry(content)));
    let mut actions: Vec<Value> = content.buttons.iter().map(|b| open_url(&b.label, &b.url, b.style)).collect();
    if actions.is_empty() {
        actions.push(open_url(words::OPEN_FORM, &content.open_url, ButtonStyle::Primary));
    }
    let card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
        "msteams": {"width": "Full"},
    });
    let payload = json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    });
    let bytes = payload.to_string().len();
    if bytes > MAX_CARD_BYTES {
        return Err(MessageError::over("Teams", "the card (as sent)", bytes, MAX_CARD_BYTES, "bytes"));
    }
    Ok(TeamsCard { payload })
}

fn open_url(label: &str, url: &str, style: ButtonStyle) -> Value {
    let style = match style {
        ButtonStyle::Primary => "positive",
        ButtonStyle::Danger => "destructive",
        ButtonStyle::Default => "default",
    };
    json!({"type": "Action.OpenUrl", "title": label, "url": url, "style": style})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::compose::{compose, sample_intervention};
    use crate::domain::message::{Button, MessageKind};

    fn content() -> MessageContent {
        let buttons = vec![
            Button { label: "Approve".into(), url: "https://hi.example/i/v3.a".into(), style: ButtonStyle::Primary },
            Button { label: "Reject".into(), url: "https://hi.example/i/v3.r".into(), style: ButtonStyle::Danger },
        ];
        compose(&sample_intervention(), None, MessageKind::Reminder, "https://hi.example/i/v2.f", buttons)
    }

    #[test]
    fn a_card_is_one_adaptive_card_with_open_url_buttons_only() {
        let card = render_teams(&content()).unwrap().payload;
        assert_eq!(card["type"], "message");
        let attachments = card["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &attachments[0]["content"];
        assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
        assert_eq!(card["body"][0]["text"], "Approve refund");
        assert_eq!(card["body"][1]["text"], "Reminder: this request still waits for your answer.");
        assert_eq!(card["body"][2]["text"], "Refund **120.50 EUR** to the customer?");
        assert_eq!(card["body"][3]["facts"][1], json!({"title": "Amount", "value": "120.50 EUR"}));
        let actions = card["actions"].as_array().unwrap();
        assert!(actions.iter().all(|a| a["type"] == "Action.OpenUrl"));
        assert_eq!(
            (actions[0]["url"].as_str(), actions[1]["style"].as_str()),
            (Some("https://hi.example/i/v3.a"), Some("destructive"))
        );
        assert!(!card.to_string().contains("a@example.com"), "a secret value was sent");
    }

    #[test]
    fn markdown_characters_in_a_title_read_as_typed_and_a_card_over_28_kb_is_refused() {
        let mut c = content();
        c.title = "**not bold** [x](https://evil.example)".into();
        let card = render_teams(&c).unwrap().payload;
        assert_eq!(
            card["attachments"][0]["content"]["body"][0]["text"],
            "\\*\\*not bold\\*\\* \\[x\\](https://evil.example)"
        );
        c.prompt = Some("p".repeat(MAX_CARD_BYTES));
        let error = render_teams(&c).unwrap_err();
        assert!(error.to_string().starts_with("the card (as sent) is 29"), "{error}");
        assert!(error.to_string().ends_with("bytes; Teams takes at most 28672"), "{error}");
    }
}

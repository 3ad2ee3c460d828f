//! A message in Slack: Block Kit within Slack's limits, checked here so that Slack never refuses it for
//! size. What a reader loses nothing by is shortened (a long shown value ends with "…": the form shows it
//! whole; a long prompt is split over several sections); what they would lose is refused by name (a
//! button's label or link, more blocks than a message holds).
//!
//! The buttons are url buttons: a click opens the link in the browser (Slack also sends the app an
//! interaction payload, which this product does not need). The decided message ([`render_slack_closed`])
//! replaces it through `chat.update` and has no buttons.

use serde_json::{json, Value};

use super::markup::{convert, Dialect};
use super::{words, MessageError};
use crate::domain::message::{ButtonStyle, MessageContent};
use crate::ports::messages::SlackMessage;

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters of a section's text.
pub const MAX_SECTION_TEXT: usize = 3_000;
/// Characters of a header's text.
pub const MAX_HEADER_TEXT: usize = 150;
/// Characters of a button's text.
pub const MAX_BUTTON_TEXT: usize = 75;
/// Characters of a button's url.
pub const MAX_BUTTON_URL: usize = 3_000;
/// Elements of an actions block.
pub const MAX_ACTIONS: usize = 25;
/// Fields of a section.
pub const MAX_FIELDS: usize = 10;
/// Characters of a field's text.
pub const MAX_FIELD_TEXT: usize = 2_000;
/// Characters of a context element's text.
pub const MAX_CONTEXT_TEXT: usize = 3_000;
/// Characters of the message's top-level `text` (Slack truncates beyond it).
pub const MAX_TEXT: usize = 40_000;
/// Characters of text in all the blocks together. Undocumented: Slack answers `msg_blocks_too_long` from
/// about 13,200 (slackapi/bolt-js#2509 measured 13,172 to 13,297 depending on the blocks); this keeps
/// clear of it.
pub const MAX_BLOCKS_TEXT: usize = 12_000;
/// Characters of a shown value's field once the message has to be shortened to fit [`MAX_BLOCKS_TEXT`].
pub const SHORT_FIELD_TEXT: usize = 300;
/// What ends a prompt shortened to fit: the form shows it whole.
pub const CONTINUED: &str = "_… the rest is on the form._";

const PROVIDER: &str = "Slack";

/// Slack's mrkdwn: `&`, `<` and `>` escaped (so no text can become a mention or a link), `*bold*`,
/// `_italic_`, `<url|text>` links.
const MRKDWN: Dialect = Dialect {
    escape,
    bold: "*",
    italic: "_",
    code: "`",
    code_block: "```",
    link: |url, text| format!("<{}|{text}>", url.replace('|', "%7C").replace('>', "%3E").replace('<', "%3C")),
};

/// Text as Slack shows it verbatim in mrkdwn: `&`, `<` and `>` as entities.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The prompt's Markdown as Slack mrkdwn.
pub fn mrkdwn(markdown: &str) -> String {
    convert(markdown, &MRKDWN)
}

/// The message of `content` for `channel` (a channel or user id).
pub fn render_slack(content: &MessageContent, channel: &str) -> Result<SlackMessage, MessageError> {
    let mut buttons: Vec<(&str, &str, ButtonStyle)> =
        content.buttons.iter().map(|b| (b.label.as_str(), b.url.as_str(), b.style)).collect();
    if buttons.is_empty() {
        buttons.push((words::OPEN_FORM, &content.open_url, ButtonStyle::Primary));
    }
    let mut elements = Vec::with_capacity(buttons.len());
    for (i, (label, url, style)) in buttons.into_iter().enumerate() {
        elements.push(button(i, label, url, style)?);
    }
    let mut tail: Vec<Value> =
        elements.chunks(MAX_ACTIONS).map(|c| json!({"type": "actions", "elements": c})).collect();
    tail.push(context(&words::expiry(content)));
    finish(content, fit(content, tail)?, channel)
}

/// The decided message that replaces the request (`chat.update`): the same words, `line` ("Approved by
/// Ann Example, 14:02 UTC") where the buttons and the expiry were.
pub fn render_slack_closed(content: &MessageContent, line: &str, channel: &str) -> Result<SlackMessage, MessageError> {
    let tail = vec![section(&format!("*{}*", escape(line)))];
    let mut message = finish(content, fit(content, tail)?, channel)?;
    message.text = truncate(&format!("{} — {line}", content.title), MAX_TEXT);
    Ok(message)
}

/// The body and then `tail`, within [`MAX_BLOCKS_TEXT`]: as written when it fits; else with each shown
/// value shortened to [`SHORT_FIELD_TEXT`]; else with the prompt cut to the room left too, ending with
/// [`CONTINUED`] (the form shows both whole); else refused by name.
fn fit(content: &MessageContent, tail: Vec<Value>) -> Result<Vec<Value>, MessageError> {
    let with = |field: usize, prompt: Option<usize>| {
        let mut blocks = body(content, field, prompt);
        blocks.extend(tail.iter().cloned());
        blocks
    };
    for field in [MAX_FIELD_TEXT, SHORT_FIELD_TEXT] {
        let blocks = with(field, None);
        if text_chars(&blocks) <= MAX_BLOCKS_TEXT {
            return Ok(blocks);
        }
    }
    let room = MAX_BLOCKS_TEXT.saturating_sub(text_chars(&with(SHORT_FIELD_TEXT, Some(0))));
    let blocks = with(SHORT_FIELD_TEXT, Some(room));
    match text_chars(&blocks) {
        chars if chars <= MAX_BLOCKS_TEXT => Ok(blocks),
        chars => Err(MessageError::over(PROVIDER, "the text of all blocks", chars, MAX_BLOCKS_TEXT, "characters")),
    }
}

/// The characters of every text in `blocks` (what Slack's total cap counts, as far as it is known).
pub fn text_chars(blocks: &[Value]) -> usize {
    fn count(value: &Value) -> usize {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(key, v)| match v {
                    Value::String(text) if key == "text" => text.chars().count(),
                    other => count(other),
                })
                .sum(),
            Value::Array(items) => items.iter().map(count).sum(),
            _ => 0,
        }
    }
    blocks.iter().map(count).sum()
}

/// The header, the lead, the prompt (cut to `prompt_room` characters, if given), the shown values (each
/// field at most `field_max` characters), the action and who asked.
fn body(content: &MessageContent, field_max: usize, prompt_room: Option<usize>) -> Vec<Value> {
    let mut blocks = vec![json!({"type": "header", "text": plain(&truncate(&content.title, MAX_HEADER_TEXT))})];
    if content.title.chars().count() > MAX_HEADER_TEXT {
        // The header holds 150 characters: the whole title follows it.
        blocks.push(section(&format!("*{}*", escape(&content.title))));
    }
    if let Some(lead) = words::lead(content) {
        blocks.push(context(&escape(&lead)));
    }
    if let Some(prompt) = &content.prompt {
        let prompt = match prompt_room {
            None => mrkdwn(prompt),
            Some(room) => {
                format!("{} {CONTINUED}", cut(&mrkdwn(prompt), room.saturating_sub(CONTINUED.chars().count() + 1)))
            }
        };
        blocks.extend(split(prompt.trim(), MAX_SECTION_TEXT).into_iter().map(|part| section(&part)));
    }
    let fields = |rows: &[(String, String)]| -> Vec<Value> {
        rows.iter()
            .map(|(label, value)| mrkdwn_text(&truncate(&format!("*{}*\n{}", escape(label), escape(value)), field_max)))
            .collect()
    };
    for chunk in fields(&content.details).chunks(MAX_FIELDS) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    if !content.action.is_empty() {
        blocks.push(section(&format!("*{}*", words::ACTION)));
        for chunk in fields(&content.action).chunks(MAX_FIELDS) {
            blocks.push(json!({"type": "section", "fields": chunk}));
        }
    }
    if let Some(asked) = words::asked_by(content) {
        blocks.push(context(&escape(&asked)));
    }
    blocks
}

/// The message, refused when over Slack's block count.
fn finish(content: &MessageContent, blocks: Vec<Value>, channel: &str) -> Result<SlackMessage, MessageError> {
    if blocks.len() > MAX_BLOCKS {
        return Err(MessageError::over(PROVIDER, "the message", blocks.len(), MAX_BLOCKS, "blocks"));
    }
    let text = match words::lead(content) {
        Some(lead) => format!("{}: {lead}", content.title),
        None => content.title.clone(),
    };
    Ok(SlackMessage { channel: channel.to_owned(), text: truncate(&text, MAX_TEXT), blocks: Value::Array(blocks) })
}

/// A url button, refused by name when Slack would refuse it (its label is what the reviewer decides by;
/// its link cannot be shortened).
fn button(i: usize, label: &str, url: &str, style: ButtonStyle) -> Result<Value, MessageError> {
    let what = |part: &str| format!("button {} ({label:?})'s {part}", i + 1);
    let chars = label.chars().count();
    if chars > MAX_BUTTON_TEXT {
        return Err(MessageError::over(PROVIDER, what("text"), chars, MAX_BUTTON_TEXT, "characters"));
    }
    let chars = url.chars().count();
    if chars > MAX_BUTTON_URL {
        return Err(MessageError::over(PROVIDER, what("url"), chars, MAX_BUTTON_URL, "characters"));
    }
    let mut button = json!({"type": "button", "action_id": format!("open-{i}"), "text": plain(label), "url": url});
    match style {
        ButtonStyle::Primary => button["style"] = json!("primary"),
        ButtonStyle::Danger => button["style"] = json!("danger"),
        ButtonStyle::Default => {}
    }
    Ok(button)
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text, "emoji": true})
}

fn mrkdwn_text(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": mrkdwn_text(&truncate(text, MAX_SECTION_TEXT))})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [mrkdwn_text(&truncate(text, MAX_CONTEXT_TEXT))]})
}

/// `text` in at most `max` characters, ending with "…" when shortened.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// mrkdwn cut to at most `max` characters, never inside an entity (`&amp;`) or a link (`<url|text>`).
fn cut(text: &str, max: usize) -> String {
    let end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let mut head = &text[..end];
    if let Some(open) = head.rfind('<').filter(|&i| !head[i..].contains('>')) {
        head = &head[..open];
    }
    if let Some(amp) = head.rfind('&').filter(|&i| !head[i..].contains(';')) {
        head = &head[..amp];
    }
    head.trim_end().to_owned()
}

/// `text` in parts of at most `max` characters, split at a paragraph, else a line, else a space, else
/// anywhere (never inside an `&…;` entity, which is at most 5 characters).
fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..limit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| head.rfind(sep).filter(|&i| i > 0))
            .unwrap_or_else(|| head.rfind('&').filter(|&i| limit - i < 6 && i > 0).unwrap_or(limit));
        parts.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::compose::{compose, sample_intervention};
    use crate::domain::message::{Button, MessageKind};

    fn content(buttons: usize) -> MessageContent {
        let buttons = (0..buttons)
            .map(|i| Button {
                label: if i == 0 { "Approve".into() } else { format!("Option {i}") },
                url: format!("https://hi.example/i/v3.{i}"),
                style: if i == 0 { ButtonStyle::Primary } else { ButtonStyle::Danger },
            })
            .collect();
        compose(&sample_intervention(), Some(1), MessageKind::Request, "https://hi.example/i/v2.f", buttons)
    }

    fn blocks(message: &SlackMessage) -> &Vec<Value> {
        message.blocks.as_array().unwrap()
    }

    #[test]
    fn a_request_reads_as_the_form_with_url_buttons() {
        let message = render_slack(&content(2), "C123").unwrap();
        assert_eq!(message.channel, "C123");
        assert_eq!(message.text, "Approve refund: For Bob Example.");
        let b = blocks(&message);
        let kinds: Vec<&str> = b.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["header", "context", "section", "section", "section", "section", "context", "actions", "context"]
        );
        assert_eq!(b[0]["text"]["text"], "Approve refund");
        assert_eq!(b[2]["text"]["text"], "Refund *120.50 EUR* to the customer?");
        assert_eq!(b[3]["fields"][1]["text"], "*Amount*\n120.50 EUR");
        let actions = &b[7]["elements"];
        assert_eq!(actions[0]["url"], "https://hi.example/i/v3.0");
        assert_eq!(actions[0]["style"], "primary");
        assert_eq!(actions[1]["style"], "danger");
        assert_ne!(actions[0]["action_id"], actions[1]["action_id"]);
        assert!(!message.blocks.to_string().contains("a@example.com"), "a secret value was sent");
        let single = render_slack(&content(0), "C1").unwrap();
        assert_eq!(blocks(&single)[7]["elements"][0]["text"]["text"], words::OPEN_FORM);
    }

    #[test]
    fn nothing_typed_becomes_a_mention_or_a_link() {
        let mut c = content(1);
        c.prompt = Some("Ping <!channel> & <@U123> [x](https://a.example/?a=1|b>c)".into());
        c.details = vec![("<!here>".into(), "<https://evil.example|bank>".into())];
        let message = render_slack(&c, "C1").unwrap();
        let b = blocks(&message);
        assert_eq!(
            b[2]["text"]["text"],
            "Ping &lt;!channel&gt; &amp; &lt;@U123&gt; <https://a.example/?a=1%7Cb%3Ec|x>"
        );
        assert_eq!(b[3]["fields"][0]["text"], "*&lt;!here&gt;*\n&lt;https://evil.example|bank&gt;");
    }

    #[test]
    fn long_words_are_shortened_or_split_and_what_cannot_be_is_refused_by_name() {
        let mut c = content(1);
        c.title = "T".repeat(200);
        c.prompt = Some(format!("{}\n\n{}", "a ".repeat(2_000), "b".repeat(4_000)));
        let message = render_slack(&c, "C1").unwrap();
        for block in blocks(&message) {
            if let Some(text) = block["text"]["text"].as_str() {
                let max = if block["type"] == "header" { MAX_HEADER_TEXT } else { MAX_SECTION_TEXT };
                assert!(text.chars().count() <= max, "{} characters in a {}", text.chars().count(), block["type"]);
            }
        }
        let text =
            |m: &SlackMessage| blocks(m).iter().filter_map(|b| b["text"]["text"].as_str()).collect::<Vec<_>>().join("");
        let prompt: String = blocks(&message)
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .filter(|t| t.starts_with(['a', 'b']))
            .collect();
        assert_eq!(prompt.matches('a').count(), 2_000, "no part of the prompt is lost");
        assert_eq!(prompt.matches('b').count(), 4_000);
        assert!(text_chars(blocks(&message)) <= MAX_BLOCKS_TEXT);

        // Over Slack's total: the shown values are shortened first, then the prompt, which says so.
        c.prompt = Some("p ".repeat(10_000));
        c.details = (0..12).map(|i| (format!("k{i}"), "v".repeat(3_000))).collect();
        let message = render_slack(&c, "C1").unwrap();
        assert!(text_chars(blocks(&message)) <= MAX_BLOCKS_TEXT, "{}", text_chars(blocks(&message)));
        let fields: Vec<usize> = blocks(&message)
            .iter()
            .flat_map(|b| b["fields"].as_array().cloned().unwrap_or_default())
            .map(|f| f["text"].as_str().unwrap().chars().count())
            .collect();
        assert_eq!(fields.len(), 13);
        assert!(fields[..12].iter().all(|&n| n == SHORT_FIELD_TEXT), "{fields:?}");
        assert!(text(&message).contains(CONTINUED) && text(&message).contains("p p p"));
        c.details = (0..45).map(|i| (format!("k{i}"), "v".repeat(300))).collect();
        let error = render_slack(&c, "C1").unwrap_err().to_string();
        assert!(error.starts_with("the text of all blocks is 1"), "{error}");
        assert!(error.ends_with(" characters; Slack takes at most 12000"), "{error}");

        let mut c = content(1);
        c.buttons[0].label = "L".repeat(76);
        let error = render_slack(&c, "C1").unwrap_err();
        assert!(error.to_string().starts_with("button 1 (\"LLLL"), "{error}");
        assert!(error.to_string().ends_with("'s text is 76 characters; Slack takes at most 75"), "{error}");
        c.buttons[0].label = "ok".into();
        c.buttons[0].url = format!("https://hi.example/{}", "u".repeat(3_000));
        assert!(render_slack(&c, "C1")
            .unwrap_err()
            .to_string()
            .contains("'s url is 3019 characters; Slack takes at most 3000"));

        let mut c = content(30);
        let message = render_slack(&c, "C1").unwrap();
        let actions: Vec<usize> = blocks(&message)
            .iter()
            .filter(|b| b["type"] == "actions")
            .map(|b| b["elements"].as_array().unwrap().len())
            .collect();
        assert_eq!(actions, [25, 5]);
        // 50 sections of 10 values, and 9 other blocks.
        c.details = (0..500).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(render_slack(&c, "C1").unwrap_err().to_string(), "the message is 59 blocks; Slack takes at most 50");
    }

    #[test]
    fn a_decided_message_has_no_buttons_and_says_what_happened() {
        let message = render_slack_closed(&content(2), "Approved by Ann Example, 14:02 UTC", "C1").unwrap();
        let b = blocks(&message);
        assert!(b.iter().all(|b| b["type"] != "actions"), "{b:?}");
        assert_eq!(b.last().unwrap()["text"]["text"], "*Approved by Ann Example, 14:02 UTC*");
        assert_eq!(message.text, "Approve refund — Approved by Ann Example, 14:02 UTC");
        assert!(!message.blocks.to_string().contains("https://hi.example/i/"), "a link left in a decided message");
    }
}

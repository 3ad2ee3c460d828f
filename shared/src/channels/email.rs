//! A message as an email: multipart/alternative (text/plain and text/html, UTF-8, base64), within SES v2's
//! limits. Every header is written here from checked parts: addresses are validated, a name or subject
//! with a control character (CR, LF) has it replaced, and any text that is not plain ASCII is an RFC 2047
//! encoded word, so nothing in a title or a name can add a header or a recipient.

use std::str::FromStr;

use base64::Engine;
use maud::{html, Markup, DOCTYPE};
use sha2::{Digest, Sha256};

use super::markdown::render_prompt;
use super::{words, MessageError};
use crate::domain::id::hex;
use crate::domain::message::{ButtonStyle, MessageContent};
use crate::domain::time::Timestamp;
use crate::ports::messages::Email;

/// SES v2's largest message (40 MB, attachments and base64 encoding included).
pub const MAX_EMAIL_BYTES: usize = 40 * 1024 * 1024;
/// SES's most recipients of one message (To, Cc and Bcc together).
pub const MAX_RECIPIENTS: usize = 50;
/// RFC 5322's longest line, without its CRLF.
pub const MAX_LINE: usize = 998;
/// The longest address (RFC 5321's path limit, as SES checks it).
pub const MAX_ADDRESS: usize = 254;

const PROVIDER: &str = "SES";

/// The email of `content` from `from` (an address, or `Name <address>`) to `to`, sent at `at`; its
/// Message-ID is `<message_id@the sender's domain>` (characters other than letters, digits, `-` and `_`
/// written `=XX`), so a resend of the same outbox message has the same id.
pub fn render_email(
    content: &MessageContent,
    from: &str,
    to: &[String],
    message_id: &str,
    at: Timestamp,
) -> Result<Email, MessageError> {
    let (from_name, from_address) = sender(from)?;
    if to.is_empty() {
        return Err(MessageError::invalid("the recipients", "none: an email needs at least one"));
    }
    if to.len() > MAX_RECIPIENTS {
        return Err(MessageError::over(PROVIDER, "the recipients", to.len(), MAX_RECIPIENTS, "recipients"));
    }
    for (i, address) in to.iter().enumerate() {
        check_address(&format!("recipient {}", i + 1), address)?;
    }
    if message_id.is_empty() {
        return Err(MessageError::invalid("the message id", "empty"));
    }
    let domain = from_address.rsplit_once('@').map_or("", |(_, d)| d);
    let boundary = format!("=_hi_{}", &hex(&Sha256::digest(message_id.as_bytes()))[..24]);

    let mut raw = String::with_capacity(8 * 1024);
    let from_header = match from_name {
        Some(name) => format!("{} <{from_address}>", phrase(name)),
        None => from_address.to_owned(),
    };
    header(&mut raw, "From", &from_header);
    header(&mut raw, "To", &to.join(",\r\n "));
    header(&mut raw, "Subject", &unstructured(&subject(content)));
    header(&mut raw, "Date", &rfc5322_date(at));
    header(&mut raw, "Message-ID", &format!("<{}@{domain}>", id_left(message_id)));
    header(&mut raw, "MIME-Version", "1.0");
    // Tells mail systems and people's rules that no person typed it (RFC 3834): no auto-replies to it.
    header(&mut raw, "Auto-Submitted", "auto-generated");
    header(&mut raw, "Content-Type", &format!("multipart/alternative; boundary=\"{boundary}\""));
    raw.push_str("\r\n");
    for (kind, body) in [("plain", plain_text(content)), ("html", html_body(content).into_string())] {
        raw.push_str(&format!("--{boundary}\r\n"));
        header(&mut raw, "Content-Type", &format!("text/{kind}; charset=utf-8"));
        header(&mut raw, "Content-Transfer-Encoding", "base64");
        raw.push_str("\r\n");
        base64_lines(&mut raw, body.as_bytes());
    }
    raw.push_str(&format!("--{boundary}--\r\n"));

    // SES counts the message as sent to it: base64 in the request.
    let sent = raw.len().div_ceil(3) * 4;
    if sent > MAX_EMAIL_BYTES {
        return Err(MessageError::over(PROVIDER, "the message (base64, as sent)", sent, MAX_EMAIL_BYTES, "bytes"));
    }
    Ok(Email { from: from_address.to_owned(), to: to.to_vec(), raw: raw.into_bytes() })
}

/// The subject: the title, marked as a reminder when it is one.
fn subject(content: &MessageContent) -> String {
    match content.kind {
        crate::domain::message::MessageKind::Request => content.title.clone(),
        crate::domain::message::MessageKind::Reminder => format!("Reminder: {}", content.title),
    }
}

/// The sender's display name (if any) and address, checked: `approvals@example.com` or
/// `Approvals <approvals@example.com>` (what `EMAIL_FROM` holds).
pub fn sender(from: &str) -> Result<(Option<&str>, &str), MessageError> {
    let (name, address) = match from.trim().strip_suffix('>').and_then(|f| f.rsplit_once('<')) {
        Some((name, address)) => (Some(name.trim()).filter(|n| !n.is_empty()), address),
        None => (None, from.trim()),
    };
    if let Some(name) = name {
        if name.chars().any(char::is_control) {
            return Err(MessageError::invalid("the sender's name", "has a control character (a line break?)"));
        }
    }
    check_address("the sender", address)?;
    Ok((name, address))
}

/// An address as SES takes it: a valid `local@domain`, no longer than [`MAX_ADDRESS`], nothing a header
/// could be split on.
fn check_address(what: &str, address: &str) -> Result<(), MessageError> {
    if address.len() > MAX_ADDRESS {
        return Err(MessageError::over(PROVIDER, format!("{what}'s address"), address.len(), MAX_ADDRESS, "bytes"));
    }
    if address.chars().any(|c| c.is_control() || c.is_whitespace() || "<>,;\"".contains(c)) || !address.is_ascii() {
        return Err(MessageError::invalid(what, format!("{address:?} has a character an address in a header cannot")));
    }
    email_address::EmailAddress::from_str(address)
        .map(drop)
        .map_err(|e| MessageError::invalid(what, format!("{address:?} is not an email address ({e})")))
}

/// Appends `name: value` and CRLF (the value's own line breaks, if any, are the folds written here).
fn header(raw: &mut String, name: &str, value: &str) {
    raw.push_str(name);
    raw.push_str(": ");
    raw.push_str(value);
    raw.push_str("\r\n");
}

/// Text for an unstructured header (Subject): every control character a space, and RFC 2047 encoded words
/// (UTF-8, base64, folded) unless it is short printable ASCII.
fn unstructured(text: &str) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.is_ascii() && clean.len() <= 60 && !clean.contains("=?") {
        return clean;
    }
    encoded_words(&clean)
}

/// A display name as a phrase: quoted printable ASCII, or encoded words.
fn phrase(name: &str) -> String {
    if name.is_ascii() && name.len() <= 60 && !name.contains("=?") {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encoded_words(name)
    }
}

/// `=?UTF-8?B?…?=` words of at most 39 bytes of text each (so each line, `Subject: ` included, stays
/// under 78 characters),
/// split between characters, folded with CRLF and a space.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > 39 {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    words.push(&text[start..end]);
    let engine = base64::engine::general_purpose::STANDARD;
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", engine.encode(w))).collect::<Vec<_>>().join("\r\n ")
}

/// The left part of a Message-ID: letters, digits, `-` and `_` as they are, any other byte `=XX` (all
/// characters a dot-atom allows, and one spelling per id).
fn id_left(message_id: &str) -> String {
    let mut out = String::with_capacity(message_id.len());
    for b in message_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// An RFC 5322 date in UTC: `Mon, 07 Dec 2026 14:02:00 +0000`.
fn rfc5322_date(at: Timestamp) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(at.millis().div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    at.format(&format).unwrap_or_default()
}

/// `bytes` in base64, 76 characters a line.
fn base64_lines(raw: &mut String, bytes: &[u8]) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    for line in encoded.as_bytes().chunks(76) {
        raw.push_str(std::str::from_utf8(line).unwrap_or_default());
        raw.push_str("\r\n");
    }
}

/// The plain-text part: the same words, the prompt as its Markdown (written to be read as text).
pub fn plain_text(content: &MessageContent) -> String {
    let mut text = format!("{}\n{}\n", content.title, "=".repeat(content.title.chars().count().min(72)));
    let mut paragraph = |p: &str| {
        text.push('\n');
        text.push_str(p);
        text.push('\n');
    };
    if let Some(lead) = words::lead(content) {
        paragraph(&lead);
    }
    if let Some(prompt) = &content.prompt {
        paragraph(prompt);
    }
    let lines =
        |rows: &[(String, String)]| rows.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n");
    if !content.details.is_empty() {
        paragraph(&lines(&content.details));
    }
    if !content.action.is_empty() {
        paragraph(&format!("{}:\n{}", words::ACTION, lines(&content.action)));
    }
    if let Some(asked) = words::asked_by(content) {
        paragraph(&asked);
    }
    let buttons = if content.buttons.is_empty() {
        format!("{}: {}", words::OPEN_FORM, content.open_url)
    } else {
        let mut all: Vec<String> = content.buttons.iter().map(|b| format!("{}: {}", b.label, b.url)).collect();
        all.push(format!("{}: {}", words::OPEN_FORM, content.open_url));
        all.join("\n")
    };
    paragraph(&buttons);
    paragraph(&words::expiry(content));
    paragraph(&format!("-- \n{}", words::YOURS));
    text.replace('\n', "\r\n")
}

const FONT: &str = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;";

/// The HTML part: one centred column of inline-styled tables (what mail clients lay out alike), no script,
/// no remote resource; the prompt through the page's Markdown renderer, every other value escaped.
pub fn html_body(content: &MessageContent) -> Markup {
    let cell = "padding:4px 12px 4px 0;vertical-align:top;";
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (content.title) }
            }
            body style={ "margin:0;padding:0;background:#f3f4f6;color:#1f2328;" (FONT) } {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;" {
                    tr { td align="center" style="padding:24px 12px;" {
                        table role="presentation" width="100%" cellpadding="0" cellspacing="0"
                            style="max-width:600px;background:#ffffff;border:1px solid #d0d7de;border-radius:8px;" {
                            tr { td style="padding:24px;font-size:16px;line-height:1.5;" {
                                h1 style="margin:0 0 12px;font-size:22px;line-height:1.3;" { (content.title) }
                                @if let Some(lead) = words::lead(content) {
                                    p style="margin:0 0 12px;color:#57606a;" { (lead) }
                                }
                                @if let Some(prompt) = &content.prompt {
                                    div style="margin:0 0 16px;" { (render_prompt(prompt)) }
                                }
                                @if !content.details.is_empty() {
                                    table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 16px;font-size:15px;" {
                                        @for (label, value) in &content.details {
                                            tr { td style={ (cell) "color:#57606a;" } { (label) } td style=(cell) { strong { (value) } } }
                                        }
                                    }
                                }
                                @if !content.action.is_empty() {
                                    p style="margin:0 0 4px;font-weight:600;" { (words::ACTION) }
                                    table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 16px;font-size:15px;" {
                                        @for (path, value) in &content.action {
                                            tr { td style={ (cell) "color:#57606a;" } { code { (path) } } td style=(cell) { (value) } }
                                        }
                                    }
                                }
                                @if let Some(asked) = words::asked_by(content) {
                                    p style="margin:0 0 16px;" { (asked) }
                                }
                                p style="margin:0 0 16px;" {
                                    @if content.buttons.is_empty() {
                                        (button(words::OPEN_FORM, &content.open_url, ButtonStyle::Primary))
                                    }
                                    @for b in &content.buttons {
                                        (button(&b.label, &b.url, b.style)) " "
                                    }
                                }
                                @if !content.buttons.is_empty() {
                                    p style="margin:0 0 16px;" { a href=(content.open_url) style="color:#0969da;" { (words::OPEN_FORM) } }
                                }
                                p style="margin:0 0 8px;font-size:14px;color:#57606a;" { (words::expiry(content)) }
                                p style="margin:0;font-size:13px;color:#57606a;" { (words::YOURS) }
                            } }
                        }
                    } }
                }
            }
        }
    }
}

/// A link styled as a button.
fn button(label: &str, url: &str, style: ButtonStyle) -> Markup {
    let (background, color) = match style {
        ButtonStyle::Primary => ("#1f883d", "#ffffff"),
        ButtonStyle::Danger => ("#cf222e", "#ffffff"),
        ButtonStyle::Default => ("#f6f8fa", "#1f2328"),
    };
    html! {
        a href=(url) style={
            "display:inline-block;margin:0 8px 8px 0;padding:10px 18px;border-radius:6px;border:1px solid #d0d7de;"
            "font-weight:600;text-decoration:none;background:" (background) ";color:" (color) ";" (FONT)
        } { (label) }
    }
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
        compose(&sample_intervention(), Some(1), MessageKind::Request, "https://hi.example/i/v2.f", buttons)
    }

    fn at() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-07T13:02:05Z").unwrap()
    }

    fn render(content: &MessageContent) -> Result<String, MessageError> {
        let to = vec!["bob@example.com".to_owned()];
        render_email(content, "Approvals <approvals@hi.example>", &to, "AAAA:1:request", at())
            .map(|e| String::from_utf8(e.raw).unwrap())
    }

    /// The headers of a raw message, unfolded, in order.
    fn headers(raw: &str) -> Vec<(String, String)> {
        let head = raw.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
        head.split("\r\n").map(|l| l.split_once(": ").unwrap()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    fn part(raw: &str, kind: &str) -> String {
        let start = raw.find(&format!("Content-Type: text/{kind}")).unwrap();
        let body = raw[start..].split("\r\n\r\n").nth(1).unwrap();
        let encoded: String = body.split("\r\n--").next().unwrap().split("\r\n").collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
    }

    #[test]
    fn an_email_is_multipart_with_both_parts_and_the_headers_mail_needs() {
        let raw = render(&content()).unwrap();
        let names: Vec<String> = headers(&raw).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type"]
        );
        let h = headers(&raw);
        assert_eq!(h[0].1, "\"Approvals\" <approvals@hi.example>");
        assert_eq!(h[2].1, "Approve refund");
        assert_eq!(h[3].1, "Mon, 07 Dec 2026 13:02:05 +0000");
        assert_eq!(h[4].1, "<AAAA=3A1=3Arequest@hi.example>");
        assert!(raw.lines().all(|l| l.len() <= MAX_LINE), "a line over 998 characters");
        assert!(raw.split("\r\n").all(|l| !l.contains('\n') && !l.contains('\r')), "a bare CR or LF");
        let text = part(&raw, "plain");
        assert!(
            text.contains("Refund **120.50 EUR** to the customer?") && text.contains("Amount: 120.50 EUR"),
            "{text}"
        );
        assert!(text.contains("Approve: https://hi.example/i/v3.a") && text.contains("For Bob Example."), "{text}");
        assert!(text.contains("Asked by Ann Example.") && text.contains("7 Dec 2026, 14:02 UTC"), "{text}");
        let page = part(&raw, "html");
        assert!(
            page.contains("<strong>120.50 EUR</strong>") && page.contains("href=\"https://hi.example/i/v3.r\""),
            "{page}"
        );
        assert!(!raw.contains("a@example.com") && !page.contains("a@example.com"), "a secret value was sent");
    }

    #[test]
    fn no_title_or_name_can_add_a_header() {
        let mut evil = content();
        evil.title = "x\r\nBcc: evil@example.com".into();
        let raw = render(&evil).unwrap();
        let h = headers(&raw);
        assert!(h.iter().all(|(k, _)| !k.eq_ignore_ascii_case("bcc")), "{h:?}");
        assert_eq!(h[2].1, "x  Bcc: evil@example.com");
        let error =
            render_email(&content(), "Evil\r\nBcc: e@x.example <a@hi.example>", &["b@x.example".into()], "m", at());
        assert!(
            matches!(error, Err(MessageError::Invalid { ref what, .. }) if what == "the sender's name"),
            "{error:?}"
        );
        let error = render_email(&content(), "a@hi.example", &["b@x.example\r\nBcc: e@x.example".into()], "m", at());
        assert!(matches!(error, Err(MessageError::Invalid { ref what, .. }) if what == "recipient 1"), "{error:?}");
        let error = render_email(&content(), "a@hi.example", &["not an address".into()], "m", at());
        assert!(error.unwrap_err().to_string().starts_with("recipient 1: "));
    }

    #[test]
    fn a_subject_that_is_not_ascii_is_encoded_words_that_decode_to_the_title() {
        let mut c = content();
        c.title = "Rückerstattung genehmigen — 120,50 € für Kundin Ö".repeat(3);
        let raw = render(&c).unwrap();
        let subject = raw
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject: "))
            .take_while(|l| !l.starts_with("Date"))
            .collect::<Vec<_>>();
        assert!(subject.len() > 1 && subject.iter().all(|l| l.len() <= 78), "{subject:?}");
        let decoded: String = subject
            .iter()
            .map(|l| l.trim_start_matches("Subject: ").trim())
            .map(|w| w.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap())
            .map(|b| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap())
            .collect();
        assert_eq!(decoded, c.title);
    }

    #[test]
    fn ses_limits_are_checked_by_name() {
        let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("r{i}@example.com")).collect();
        let error = render_email(&content(), "a@hi.example", &many, "m", at()).unwrap_err();
        assert_eq!(error.to_string(), "the recipients is 51 recipients; SES takes at most 50");
        assert!(render_email(&content(), "a@hi.example", &many[..50], "m", at()).is_ok());
        let mut huge = content();
        huge.prompt = Some("x".repeat(MAX_EMAIL_BYTES / 3));
        let error = render(&huge).unwrap_err();
        assert!(matches!(error, MessageError::OverLimit { limit: MAX_EMAIL_BYTES, .. }), "{error}");
        assert!(error.to_string().starts_with("the message (base64, as sent) is "), "{error}");
        assert!(render_email(&content(), "a@hi.example", &[], "m", at()).is_err());
    }

    #[test]
    fn the_html_has_no_script_no_remote_resource_and_escapes_every_value() {
        let mut c = content();
        c.title = "<script>alert(1)</script>".into();
        c.prompt = Some("<img src=https://evil.example/p.png> [x](javascript:alert(1))".into());
        c.details = vec![("<b>label</b>".into(), "\"><script>".into())];
        let page = html_body(&c).into_string();
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(!page.contains("<img") && !page.contains("<link") && !page.contains("javascript:"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("src=\"") && !page.contains("url("), "a resource fetched on open: {page}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn no_title_name_or_value_adds_a_header_or_a_line_break(
            title in "(?s)(\\PC|[\r\n\t:<>\"=?]|Bcc: e@x\\.example){1,120}",
            name in "(?s)(\\PC|[\r\n:<>\"=?]){0,40}",
            value in "(?s)(\\PC|[\r\n]){0,60}",
        ) {
            let mut c = content();
            c.title = title;
            c.details = vec![("Note".into(), value)];
            let from = format!("{name} <approvals@hi.example>");
            match render_email(&c, &from, &["bob@example.com".to_owned()], "m:1", at()) {
                Ok(email) => {
                    let raw = String::from_utf8(email.raw).unwrap();
                    assert!(raw.split("\r\n").all(|l| l.len() <= MAX_LINE && !l.contains(['\r', '\n'])), "{raw}");
                    let names: Vec<String> = headers(&raw).into_iter().map(|(k, _)| k).collect();
                    assert_eq!(
                        names,
                        ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type"]
                    );
                    assert_eq!(email.to, ["bob@example.com"]);
                }
                Err(MessageError::Invalid { what, .. }) => assert!(what.starts_with("the sender"), "{what}"),
                Err(other) => panic!("{other}"),
            }
        }
    }
}

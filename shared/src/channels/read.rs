//! Reading a rendered email back: a header (unfolded, encoded words decoded) and a part's decoded body.
//! What the local server's mailbox page shows, and what tests check.

use base64::Engine;

/// An email's header (unfolded, encoded words decoded), if it has it.
pub fn email_header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next()?;
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let line = unfolded.split("\r\n").find(|l| l.to_ascii_lowercase().starts_with(&prefix))?;
    Some(decode_words(line[prefix.len()..].trim()))
}

/// RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`) decoded; anything else as it is.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    for (i, word) in value.split(' ').enumerate() {
        let decoded = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")).and_then(|w| {
            let mut parts = w.splitn(3, '?');
            let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
            let bytes = match encoding {
                "B" | "b" => base64::engine::general_purpose::STANDARD.decode(text).ok()?,
                _ => quoted(text.replace('_', " ").as_bytes()),
            };
            String::from_utf8(bytes).ok()
        });
        match decoded {
            Some(text) => out.push_str(&text),
            None => {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

fn quoted(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'=', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The decoded body of an email's part of `content_type` (`text/html`, `text/plain`).
pub fn email_part(raw: &[u8], content_type: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let marker = format!("content-type: {content_type}");
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&marker)?;
    let part = &text[at..];
    let lower_part = &lower[at..];
    let body_at = part.find("\r\n\r\n")? + 4;
    let body = &part[body_at..];
    let end = body.find("\r\n--").unwrap_or(body.len());
    let body = &body[..end];
    let head = &lower_part[..body_at];
    let bytes = if head.contains("content-transfer-encoding: base64") {
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(compact).ok()?
    } else if head.contains("content-transfer-encoding: quoted-printable") {
        quoted(body.replace("=\r\n", "").as_bytes())
    } else {
        body.as_bytes().to_vec()
    };
    String::from_utf8(bytes).ok()
}

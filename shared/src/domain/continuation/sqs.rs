//! A continuation as SQS takes it: its body, its attributes, and the bytes SQS counts.

use super::Continuation;
use crate::domain::proof::receipt::RECEIPT_RESERVE_BYTES;

/// Largest continuation message: its body, attribute names, types and values together, in bytes. SQS's
/// message limit as every queue allows it by default (256 KiB); also the batch limit, so a message that
/// fits can always be sent, alone if need be. The submission item that carries it (with the reviewer's
/// input, at most twice the 64 KiB body as JSON) then stays within DynamoDB's 400 KB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The characters SQS accepts in a message body or attribute value: `#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF`.
pub fn is_sendable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// The data type every continuation attribute is sent with.
const ATTRIBUTE_TYPE: &str = "String";

impl Continuation {
    /// The message body: this continuation's JSON, with every character SQS refuses written as a JSON
    /// escape (`\uFFFF`), so the body is always sendable and a consumer decodes exactly what was typed.
    pub fn message_body(&self) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(self)?;
        if json.chars().all(is_sendable) {
            return Ok(json);
        }
        // Outside strings JSON is ASCII, so every such character is inside a string, where an escape
        // means the same character. serde_json already escapes the control characters.
        let mut body = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            if is_sendable(c) {
                body.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    body.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        Ok(body)
    }

    /// The message attributes, name and value: consumers route and de-duplicate on them without
    /// reading the body. Every value is made of ids refused at creation unless sendable.
    pub fn message_attributes(&self) -> [(&'static str, &str); 3] {
        [
            ("correlationId", self.correlation_id.as_str()),
            ("environmentId", self.environment_id.as_str()),
            ("continuationId", self.id.as_str()),
        ]
    }

    /// Why SQS would refuse this message for good, if it would: over [`MAX_MESSAGE_BYTES`], or an
    /// attribute with a character outside SQS's set (the body never has one: see [`Self::message_body`]).
    pub fn unsendable(&self) -> Option<String> {
        if let Some((name, _)) = self.message_attributes().iter().find(|(_, v)| !v.chars().all(is_sendable)) {
            return Some(format!("the {name} attribute has a character SQS refuses"));
        }
        match self.message_bytes() {
            Ok(bytes) if bytes > MAX_MESSAGE_BYTES => {
                Some(format!("the message is {bytes} bytes; SQS takes at most {MAX_MESSAGE_BYTES}"))
            }
            Ok(_) => None,
            Err(error) => Some(format!("the continuation is not JSON: {error}")),
        }
    }

    /// The bytes SQS counts for this message (body, and each attribute's name, type and value); before it is
    /// signed, with room for its receipt, so what fits now still fits when the publisher signs it.
    pub fn message_bytes(&self) -> Result<usize, serde_json::Error> {
        let attributes: usize =
            self.message_attributes().iter().map(|(name, value)| name.len() + ATTRIBUTE_TYPE.len() + value.len()).sum();
        // Counted as serde_json writes it: every submission asks, and the body itself is not needed here.
        let mut body = BodyLength { bytes: 0, split: false };
        serde_json::to_writer(&mut body, self)?;
        let body = if body.split { self.message_body()?.len() } else { body.bytes };
        let receipt = if self.receipt.is_none() { RECEIPT_RESERVE_BYTES } else { 0 };
        Ok(body + attributes + receipt)
    }
}

/// The length [`Continuation::message_body`] would have: each character SQS refuses counts as its
/// `\uXXXX` escapes. serde_json writes whole characters in each call; `split` says if one was not.
struct BodyLength {
    bytes: usize,
    split: bool,
}

impl std::io::Write for BodyLength {
    fn write(&mut self, written: &[u8]) -> std::io::Result<usize> {
        // ASCII is sendable as written: serde_json escapes the control characters SQS refuses.
        if written.is_ascii() {
            self.bytes += written.len();
            return Ok(written.len());
        }
        self.bytes += match std::str::from_utf8(written) {
            Ok(text) => text.chars().map(|c| if is_sendable(c) { c.len_utf8() } else { 6 * c.len_utf16() }).sum(),
            Err(_) => {
                self.split = true;
                written.len()
            }
        };
        Ok(written.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

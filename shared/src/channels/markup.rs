//! The prompt's Markdown (the page's safe subset) in a chat's own markup: Slack's mrkdwn or an Adaptive
//! Card's Markdown. One walk of the same parser the page uses, with what differs per chat in a [`Dialect`];
//! raw HTML and images become text, and a link to another scheme than the page allows its text.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// The URL schemes a link may use (as on the page).
const LINK_SCHEMES: [&str; 3] = ["http:", "https:", "mailto:"];

/// How a chat writes each piece of markup.
pub struct Dialect {
    /// Escapes text so that it reads as written.
    pub escape: fn(&str) -> String,
    /// Strong emphasis around text.
    pub bold: &'static str,
    /// Emphasis around text.
    pub italic: &'static str,
    /// Around inline code (empty: none, the code shown as text).
    pub code: &'static str,
    /// Around a code block (empty: none).
    pub code_block: &'static str,
    /// A link: (url, its escaped text) → markup.
    pub link: fn(&str, &str) -> String,
}

/// The prompt in `dialect`, paragraphs separated by a blank line, lists by line.
pub fn convert(markdown: &str, dialect: &Dialect) -> String {
    let mut out = String::with_capacity(markdown.len() + 16);
    // Per open link: its destination (if allowed) and where its text starts in `out`.
    let mut links: Vec<(Option<String>, usize)> = Vec::new();
    // Per open list: the next number (None: bullets).
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut quotes = 0usize;
    for event in Parser::new_ext(markdown, Options::empty()) {
        match event {
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => out.push_str(&(dialect.escape)(&text)),
            Event::Code(code) => {
                out.push_str(dialect.code);
                out.push_str(&(dialect.escape)(&code));
                out.push_str(dialect.code);
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => {
                out.push('\n');
                out.push_str(&"> ".repeat(quotes));
            }
            Event::Rule => block(&mut out, quotes, "———"),
            // A list item's first paragraph starts on the item's line.
            Event::Start(Tag::Paragraph) if !out.ends_with(". ") && !out.ends_with("• ") => {
                block(&mut out, quotes, "")
            }
            Event::Start(Tag::Heading { .. }) => {
                block(&mut out, quotes, "");
                out.push_str(dialect.bold);
            }
            Event::End(TagEnd::Heading(_)) => out.push_str(dialect.bold),
            Event::Start(Tag::BlockQuote(_)) => quotes += 1,
            Event::End(TagEnd::BlockQuote(_)) => quotes = quotes.saturating_sub(1),
            Event::Start(Tag::CodeBlock(kind)) => {
                block(&mut out, quotes, dialect.code_block);
                if !dialect.code_block.is_empty() || matches!(kind, CodeBlockKind::Fenced(_)) {
                    out.push('\n');
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                while out.ends_with('\n') {
                    out.pop();
                }
                if !dialect.code_block.is_empty() {
                    out.push('\n');
                    out.push_str(dialect.code_block);
                }
            }
            Event::Start(Tag::List(start)) => {
                if lists.is_empty() {
                    block(&mut out, quotes, "");
                }
                lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                let depth = lists.len().saturating_sub(1);
                let marker = match lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_owned(),
                };
                block(&mut out, quotes, &format!("{}{marker}", "    ".repeat(depth)));
            }
            Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => out.push_str(dialect.bold),
            Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => out.push_str(dialect.italic),
            Event::Start(Tag::Link { dest_url, .. }) => {
                let allowed =
                    LINK_SCHEMES.iter().any(|s| dest_url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
                links.push((allowed.then(|| dest_url.to_string()), out.len()));
            }
            Event::End(TagEnd::Link) => {
                if let Some((Some(url), start)) = links.pop() {
                    let text = out.split_off(start);
                    out.push_str(&(dialect.link)(&url, &text));
                }
            }
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// Starts a new line of a block (a blank line before a paragraph, one line before a list item), inside
/// the open quotes, followed by `lead`.
fn block(out: &mut String, quotes: usize, lead: &str) {
    // Inside a quote, a line break left its "> " behind: the block starts on that line instead.
    let trimmed = if quotes > 0 { out.trim_end_matches([' ', '>']) } else { out.trim_end_matches(' ') }.len();
    out.truncate(trimmed);
    if !out.is_empty() && !out.ends_with('\n') {
        let item = lead.ends_with(". ") || lead.ends_with("• ");
        out.push_str(if item { "\n" } else { "\n\n" });
    }
    out.push_str(&"> ".repeat(quotes));
    out.push_str(lead);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Dialect {
        Dialect {
            escape: |t| t.replace('&', "&amp;"),
            bold: "*",
            italic: "_",
            code: "`",
            code_block: "```",
            link: |url, text| format!("<{url}|{text}>"),
        }
    }

    #[test]
    fn markdown_reads_in_the_chat_s_markup() {
        let d = plain();
        assert_eq!(convert("Refund **120.50 EUR** to _Ann_ & co?", &d), "Refund *120.50 EUR* to _Ann_ &amp; co?");
        assert_eq!(convert("One\n\nTwo\nthree", &d), "One\n\nTwo three");
        assert_eq!(convert("- a\n- b\n\n1. x\n2. y", &d), "• a\n• b\n\n1. x\n2. y");
        assert_eq!(convert("# Title\n\ntext", &d), "*Title*\n\ntext");
        assert_eq!(
            convert("see [the docs](https://x.example/a) or `code`", &d),
            "see <https://x.example/a|the docs> or `code`"
        );
        assert_eq!(convert("[bad](javascript:alert(1)) <b>raw</b>", &d), "bad <b>raw</b>");
        assert_eq!(convert("> quoted\n\nafter", &d), "> quoted\n\nafter");
        assert_eq!(convert("```\nlet x = 1;\n```", &d), "```\nlet x = 1;\n```");
    }
}

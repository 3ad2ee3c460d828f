//! The form's prompt: a safe subset of Markdown rendered to HTML.
//!
//! The renderer is the allow-list: it writes only the tags named below, with no attribute but a
//! checked link's, and every piece of text HTML-escaped. Raw HTML becomes text, an image its alt text, and
//! a link to another scheme its text; nothing the author typed is ever passed through as markup.

use std::fmt::Write;

use maud::{Escaper, Markup, PreEscaped};
use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// The URL schemes a prompt link may use.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Renders the prompt's Markdown as HTML: paragraphs, emphasis, code, lists, quotes, rules, headings
/// (below the page's own title) and http(s)/mailto links opening beside the form.
pub fn render_prompt(markdown: &str) -> Markup {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    // Per open link: whether its start tag was written (so its end tag is).
    let mut links: Vec<bool> = Vec::new();
    for event in Parser::new_ext(markdown, Options::empty()) {
        match event {
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => escape(&mut html, &text),
            Event::Code(code) => {
                html.push_str("<code>");
                escape(&mut html, &code);
                html.push_str("</code>");
            }
            Event::Start(Tag::Link { link_type, dest_url, title, .. }) => {
                let href = link_href(link_type, &dest_url);
                links.push(href.is_some());
                if let Some(href) = href {
                    open_link(&mut html, &href, &title);
                }
            }
            Event::End(TagEnd::Link) => {
                if links.pop() == Some(true) {
                    html.push_str("</a>");
                }
            }
            Event::Start(Tag::List(Some(start))) if start != 1 => {
                let _ = writeln!(html, "<ol start=\"{start}\">");
            }
            event => {
                if let Some(tag) = fixed_markup(&event) {
                    html.push_str(tag);
                }
            }
        }
    }
    PreEscaped(html)
}

/// A checked link's start tag, opening beside the form.
fn open_link(html: &mut String, href: &str, title: &str) {
    html.push_str("<a href=\"");
    escape(html, href);
    if !title.is_empty() {
        html.push_str("\" title=\"");
        escape(html, title);
    }
    html.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
}

/// The markup an event always writes the same way (breaks, rules, the allowed tags); `None` for what the
/// subset leaves out.
fn fixed_markup(event: &Event) -> Option<&'static str> {
    match event {
        Event::SoftBreak => Some("\n"),
        Event::HardBreak => Some("<br>\n"),
        Event::Rule => Some("<hr>\n"),
        Event::Start(tag) => start_tag(tag),
        Event::End(tag) => end_tag(tag),
        _ => None,
    }
}

fn start_tag(tag: &Tag) -> Option<&'static str> {
    Some(match tag {
        Tag::Paragraph | Tag::HtmlBlock => "<p>",
        Tag::Heading { level, .. } => ["<h3>", "<h4>", "<h5>", "<h6>"][heading(*level)],
        Tag::BlockQuote(_) => "<blockquote>\n",
        Tag::CodeBlock(_) => "<pre><code>",
        Tag::List(Some(_)) => "<ol>\n",
        Tag::List(None) => "<ul>\n",
        Tag::Item => "<li>",
        Tag::Emphasis => "<em>",
        Tag::Strong => "<strong>",
        // Images (their alt text is the events inside) and anything the options leave off.
        _ => return None,
    })
}

fn end_tag(tag: &TagEnd) -> Option<&'static str> {
    Some(match tag {
        TagEnd::Paragraph | TagEnd::HtmlBlock => "</p>\n",
        TagEnd::Heading(level) => ["</h3>\n", "</h4>\n", "</h5>\n", "</h6>\n"][heading(*level)],
        TagEnd::BlockQuote(_) => "</blockquote>\n",
        TagEnd::CodeBlock => "</code></pre>\n",
        TagEnd::List(true) => "</ol>\n",
        TagEnd::List(false) => "</ul>\n",
        TagEnd::Item => "</li>\n",
        TagEnd::Emphasis => "</em>",
        TagEnd::Strong => "</strong>",
        _ => return None,
    })
}

/// HTML-escapes `text` (`&`, `<`, `>`, `"`) onto `html`: safe as element text and as a quoted attribute.
fn escape(html: &mut String, text: &str) {
    let _ = Escaper::new(html).write_str(text);
}

/// A link's target, as a browser would read it, when its scheme is allowed; `None` otherwise.
fn link_href(link_type: LinkType, dest: &str) -> Option<String> {
    // An email autolink (`<ops@example.com>`) carries the address alone.
    let dest = if link_type == LinkType::Email { format!("mailto:{dest}") } else { dest.to_owned() };
    // Parsed as a browser would (case, tabs and newlines inside the scheme are normalised away), and
    // written out as parsed, so the checked URL is the one the page links to.
    let url = url::Url::parse(&dest).ok()?;
    LINK_SCHEMES.contains(&url.scheme()).then(|| url.into())
}

/// The prompt's headings sit below the page's own h1 (and its h2s): h1 → h3, h2 → h4, h3 → h5, then h6.
fn heading(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 0,
        HeadingLevel::H2 => 1,
        HeadingLevel::H3 => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(markdown: &str) -> String {
        render_prompt(markdown).into_string()
    }

    /// No element or attribute that could run script, load content or navigate to a bad scheme.
    fn assert_inert(html: &str) {
        let lower = html.to_ascii_lowercase();
        for bad in [
            "<script",
            "<img",
            "<iframe",
            "<svg",
            "<style",
            "<object",
            "<embed",
            "<form",
            "<input",
            " on",
            "javascript:",
            "data:",
            "vbscript:",
            "src=",
        ] {
            // Escaped text (`&lt;script`) is fine; only live markup matters, so look outside text.
            let live = strip_text(&lower);
            assert!(!live.contains(bad), "found {bad:?} in {html}");
        }
    }

    /// The tags only (text between them removed), so an escaped `<script>` in text cannot trip the check.
    fn strip_text(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => {
                    in_tag = true;
                    out.push(c);
                }
                '>' => {
                    in_tag = false;
                    out.push(c);
                }
                _ if in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn basic_markdown_renders() {
        let html = render("Refund **120.50 EUR** to *the customer*?\n\n- one\n- two\n\n1. first\n2. second\n\n`code`");
        assert!(html.contains("<strong>120.50 EUR</strong>"), "{html}");
        assert!(html.contains("<em>the customer</em>"), "{html}");
        assert!(html.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"), "{html}");
        assert!(html.contains("<ol>\n<li>first</li>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
    }

    #[test]
    fn links_get_rel_and_open_beside_the_form() {
        let html = render("See [the order](https://example.com/orders/1?a=1&b=2) or <mailto:ops@example.com>.");
        assert!(html.contains("href=\"https://example.com/orders/1?a=1&amp;b=2\""), "{html}");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
        assert!(html.contains("target=\"_blank\""), "{html}");
        assert!(html.contains("href=\"mailto:ops@example.com\""), "{html}");
        let email = render("<ops@example.com>");
        assert!(email.contains("href=\"mailto:ops@example.com\""), "{email}");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html =
            render("Hi <script>alert(1)</script> there\n\n<script>alert(2)</script>\n\n<div onclick=\"x()\">y</div>");
        assert_inert(&html);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "{html}");
        assert!(
            html.contains("&lt;div onclick=\"x()\"&gt;y&lt;/div&gt;")
                || html.contains("&lt;div onclick=&quot;x()&quot;&gt;"),
            "{html}"
        );
    }

    #[test]
    fn img_with_onerror_is_inert() {
        for markdown in [
            "<img src=x onerror=alert(1)>",
            "a <img src=x onerror=alert(1)> b",
            "![alt text](https://example.com/x.png)",
            "![x](javascript:alert(1))",
        ] {
            let html = render(markdown);
            assert_inert(&html);
        }
        assert!(render("![alt text](https://example.com/x.png)").contains("alt text"));
    }

    #[test]
    fn script_urls_are_never_links() {
        for markdown in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](<java\tscript:alert(1)>)",
            "[x](java&#9;script:alert(1))",
            "[x](java&#x0A;script:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x]( javascript:alert(1))",
            "<javascript:alert(1)>",
            "[x](vbscript:msgbox(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<data:text/html,<script>alert(1)</script>>",
            "[x][r]\n\n[r]: javascript:alert(1)",
            "[x](/relative/path)",
            "[x](//evil.example/)",
        ] {
            let html = render(markdown);
            assert_inert(&html);
            assert!(!html.contains("href"), "{markdown:?} became a link: {html}");
        }
        // The link text stays readable.
        assert_eq!(render("[click](javascript:alert(1))").trim(), "<p>click</p>");
    }

    #[test]
    fn headings_sit_below_the_page_title() {
        let html = render("# Big\n\n## Smaller\n\n#### Small");
        assert!(
            html.contains("<h3>Big</h3>") && html.contains("<h4>Smaller</h4>") && html.contains("<h6>Small</h6>"),
            "{html}"
        );
        assert!(!html.contains("<h1") && !html.contains("<h2"), "{html}");
    }

    #[test]
    fn attributes_outside_the_allow_list_are_dropped() {
        let html = render("[x](https://example.com \"a title\")\n\n3. three\n4. four\n\n```rust\nfn main() {}\n```");
        assert!(html.contains("title=\"a title\""), "{html}");
        assert!(html.contains("<ol start=\"3\">"), "{html}");
        assert!(html.contains("<pre><code>fn main() {}\n</code></pre>"), "{html}");
    }

    #[test]
    fn empty_prompt_is_empty() {
        assert_eq!(render(""), "");
    }

    /// Every tag in the output is one the renderer writes, with only the attributes it writes.
    fn assert_allow_listed(html: &str) {
        let tags = strip_text(html);
        for tag in tags.split('<').skip(1) {
            let tag = tag.trim_end_matches('>');
            let mut parts = tag.split(' ');
            let name = parts.next().unwrap_or_default().trim_start_matches('/');
            assert!(
                [
                    "p",
                    "h3",
                    "h4",
                    "h5",
                    "h6",
                    "blockquote",
                    "pre",
                    "code",
                    "ol",
                    "ul",
                    "li",
                    "em",
                    "strong",
                    "a",
                    "br",
                    "hr"
                ]
                .contains(&name),
                "tag {name:?} in {html}"
            );
            for attribute in parts {
                let key = attribute.split('=').next().unwrap_or_default();
                assert!(
                    ["href", "title", "rel", "target", "start"].contains(&key) || !attribute.contains('='),
                    "attribute {attribute:?} in {html}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_prompt_renders_only_allow_listed_markup(markdown in "(?s)([<>&\"'=/ a-z\\[\\]()!:*_`#>\n-]|javascript|script|img|onerror|https?://x|mailto:|<[a-z]+)*") {
            let html = render(&markdown);
            assert_inert(&html);
            assert_allow_listed(&html);
        }
    }
}

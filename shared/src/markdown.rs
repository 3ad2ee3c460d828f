//! The form's prompt: a safe subset of Markdown rendered to HTML.
//!
//! Two layers, so that neither alone has to be perfect: the Markdown events are rewritten first (raw HTML
//! becomes text, images become their alt text, links to other schemes become their text), then ammonia
//! sanitises the HTML against a short allow-list.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::UrlRelative;
use maud::{Markup, PreEscaped};
use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// The URL schemes a prompt link may use.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// What a prompt may contain after sanitising.
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from([
            "p",
            "em",
            "strong",
            "code",
            "pre",
            "ul",
            "ol",
            "li",
            "blockquote",
            "a",
            "br",
            "hr",
            "h3",
            "h4",
            "h5",
            "h6",
        ]))
        .clean_content_tags(HashSet::from(["script", "style"]))
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::from([("a", HashSet::from(["href", "title"])), ("ol", HashSet::from(["start"]))]))
        .url_schemes(HashSet::from(LINK_SCHEMES))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        // A link opens beside the form, so following it does not lose what the reviewer typed.
        .set_tag_attribute_value("a", "target", "_blank")
        .strip_comments(true);
    builder
});

/// Renders the prompt's Markdown as sanitised HTML: no raw HTML, no images, only http(s)/mailto links.
pub fn render_prompt(markdown: &str) -> Markup {
    let mut links_kept: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, Options::empty()).filter_map(|event| match event {
        // Raw HTML is shown as the text the author typed.
        Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
        // An image shows its alt text (the events between start and end) instead.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let keep = is_allowed_link(link_type, &dest_url);
            links_kept.push(keep);
            keep.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::End(TagEnd::Link) => links_kept.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
        // The page's own title is the h1; the prompt's headings sit below it.
        Event::Start(Tag::Heading { level, id, classes, attrs }) => {
            Some(Event::Start(Tag::Heading { level: demote(level), id, classes, attrs }))
        }
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(demote(level)))),
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    // The one place markup is trusted: ammonia's output, which only holds the allow-listed tags above.
    PreEscaped(SANITISER.clean(&html).to_string())
}

fn is_allowed_link(link_type: LinkType, dest: &CowStr) -> bool {
    // The HTML renderer prefixes an email autolink with `mailto:`.
    if link_type == LinkType::Email {
        return true;
    }
    // Parsed as a browser would (case, tabs and newlines inside the scheme are normalised away).
    url::Url::parse(dest).is_ok_and(|url| LINK_SCHEMES.contains(&url.scheme()))
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
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
}

//! The frame every page shares: the document head (no script, no inline style) and the one stylesheet.

use maud::{html, Markup, DOCTYPE};

/// Path of the one stylesheet (served by the http layer from `STYLESHEET`).
pub const STYLESHEET_PATH: &str = "/assets/intervention.css";
/// How pages link the stylesheet: relative to the link (`/i/{token}`), so it also resolves behind an API
/// stage or base path.
pub const STYLESHEET_HREF: &str = "../assets/intervention.css";
/// The stylesheet's bytes.
pub const STYLESHEET: &str = include_str!("intervention.css");

/// A whole page: `title` in the head, `content` in the card.
pub(crate) fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                meta name="referrer" content="no-referrer";
                title { (title) }
                link rel="stylesheet" href=(STYLESHEET_HREF);
            }
            body {
                main.card { (content) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stylesheet_is_served_from_the_linked_path() {
        assert!(STYLESHEET_PATH.ends_with(".css"));
        assert!(STYLESHEET.contains(".error-message") && STYLESHEET.contains(":focus-visible"));
    }
}

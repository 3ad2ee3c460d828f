//! The pages that end a visit instead of showing the form: the refusals (a link that cannot take the
//! reviewer to the form), the confirmation after an accepted submission, and the generic error page.

use maud::{html, Markup};

use crate::domain::rejection::Rejection;
use crate::web::pages::layout::layout;

/// The page for a link that cannot take the reviewer to the form.
pub fn rejection_page(rejection: Rejection) -> Markup {
    let advice = match rejection {
        Rejection::NotFound => {
            "Check that you opened the whole link from the message you received. \
             If it still does not work, ask whoever sent it to you for a new one."
        }
        Rejection::Expired => {
            "This link is no longer valid. If a response is still needed, ask whoever sent you the link for a new one."
        }
        Rejection::UsedUp => {
            "This link has already been used as many times as it allows, so no further response can be sent with it. \
             If something needs to change, contact whoever sent you the link."
        }
        Rejection::Decided(_) => {
            "Enough reviewers have answered, so no further response is needed. You can close this page."
        }
    };
    let decided = match rejection {
        Rejection::Decided(_) => Some(rejection.message()),
        _ => None,
    };
    layout(
        rejection.text(),
        html! {
            h1 { (rejection.text()) }
            @if let Some(decided) = decided {
                p.decided { (decided) }
            }
            p { (advice) }
        },
    )
}

/// The confirmation after an accepted submission.
pub fn success_page(correlation_id: &str, title: &str) -> Markup {
    const HEADING: &str = "Thank you — your response was received";
    layout(
        HEADING,
        html! {
            p.eyebrow { (title) }
            h1 { (HEADING) }
            p { "The workflow continues with your response. You can close this page." }
            p.reference { "Reference (correlation id): " code { (correlation_id) } }
        },
    )
}

/// A generic page for the other failures (400, 405, 409, 413, 415, 503).
pub fn error_page(heading: &str, message: &str) -> Markup {
    layout(
        heading,
        html! {
            h1 { (heading) }
            p { (message) }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_pages_say_exactly_what_happened() {
        for (rejection, text) in [
            (Rejection::NotFound, "Not found"),
            (Rejection::Expired, "Link has expired"),
            (Rejection::UsedUp, "Already used the maximum number of times"),
        ] {
            let html = rejection_page(rejection).into_string();
            assert!(html.contains(&format!("<h1>{text}</h1>")), "{html}");
            assert!(html.contains(&format!("<title>{text}</title>")), "{html}");
            let lower = html.to_lowercase();
            assert!(!lower.contains("token") && !lower.contains(" id"), "{html}");
        }
        assert!(rejection_page(Rejection::Expired).into_string().contains("for a new one"));
    }

    #[test]
    fn success_page_shows_the_reference() {
        let html = success_page("0b9c5d2e-<b>", "Approve <refund>").into_string();
        assert!(html.contains("<h1>Thank you — your response was received</h1>"));
        assert!(html.contains("Reference (correlation id): <code>0b9c5d2e-&lt;b&gt;</code>"), "{html}");
        assert!(html.contains("Approve &lt;refund&gt;"));
        assert!(html.contains("You can close this page."));
    }

    #[test]
    fn error_page_escapes_its_text() {
        let html = error_page("Too large", "At most 64 KiB <b>").into_string();
        assert!(html.contains("<h1>Too large</h1><p>At most 64 KiB &lt;b&gt;</p>"), "{html}");
    }
}

//! A mail scanner decides nothing: on the local server, every URL in every message it sent (each email's
//! text and HTML, each Slack message's blocks, each Teams card) is fetched as scanners and link previews
//! fetch them — GET, HEAD, a prefetch, a preview bot following redirects — and nothing is used, voted or
//! queued; then a confirm page's own POST decides, once.

use std::collections::BTreeSet;
use std::time::Duration;

use human_intervention::channels::read::email_part;
use human_intervention::memory::Delivered;
use intervention_tests::{example, submission_id_in, TestServer};
use serde_json::{json, Value};

/// Every `http://` URL in `text` that points at the server.
fn urls_in(text: &str, base: &str, into: &mut BTreeSet<String>) {
    for (at, _) in text.match_indices(base) {
        let url: String = text[at..]
            .chars()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '_' | '?' | '=' | '%' | '&')
            })
            .collect();
        into.insert(url.replace("&amp;", "&").trim_end_matches(['.', '&']).to_owned());
    }
}

/// One-click: Ann and Bob vote (two approvals decide) on a form whose only required field is the
/// decision; Ann is reached by email, Slack and Teams, Bob by email.
fn one_click_quorum() -> Value {
    let mut input = example();
    input.as_object_mut().unwrap().remove("maxUrlUses");
    input["formDocument"]["fields"] = json!([
        {"key": "decision", "label": "Decision", "type": "choice", "required": true,
         "options": [{"value": "approve", "label": "Approve"}, {"value": "reject", "label": "Reject"}]},
        {"key": "note", "label": "Note", "type": "text"}
    ]);
    input["reviewers"] = json!([
        {"id": "ann", "name": "Ann Example",
         "notify": {"email": ["ann@example.com"], "slack": "C0APPROVALS", "teams": "approvals"}},
        {"id": "bob", "name": "Bob Example", "notify": {"email": ["bob@example.com"]}}
    ]);
    input["quorum"] = json!({"approvals": 2, "field": "decision", "approve": "approve", "reject": "reject"});
    input
}

#[tokio::test]
async fn every_url_in_every_message_fetched_by_a_scanner_decides_nothing_and_the_confirm_post_decides() {
    let s = TestServer::start().await;
    let (_, id) = s.create_for_reviewers(&one_click_quorum()).await;
    // The local publisher sends them within a pass.
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = s.server.mailbox.delivered();
        if delivered.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered.len(), 4, "Ann's email, Slack and Teams messages, and Bob's email: {delivered:?}");

    let base = format!("{}/i/", s.url);
    let mut urls = BTreeSet::new();
    for message in &delivered {
        match message {
            Delivered::Email { email, .. } => {
                urls_in(&email_part(&email.raw, "text/plain").expect("a text part"), &base, &mut urls);
                urls_in(&email_part(&email.raw, "text/html").expect("an HTML part"), &base, &mut urls);
            }
            Delivered::Slack { message, .. } => urls_in(&message.blocks.to_string(), &base, &mut urls),
            Delivered::Teams { card, .. } => urls_in(&card.payload.to_string(), &base, &mut urls),
        }
    }
    // Each reviewer's form link and two one-click links, the same in every message to them.
    assert_eq!(urls.len(), 6, "{urls:#?}");

    let preview = "Mozilla/5.0 (compatible; Microsoft Office Protection; SafeLinks)";
    let follows = reqwest::Client::builder().user_agent(preview).build().unwrap();
    for url in &urls {
        for request in [
            s.client.get(url),
            s.client.head(url),
            s.client.get(url).header("Sec-Purpose", "prefetch").header("Purpose", "prefetch"),
            s.client.get(url).header("X-Moz", "prefetch"),
            follows.get(url),
            follows.head(url),
        ] {
            let status = request.send().await.expect("an answer").status().as_u16();
            assert_eq!(status, 200, "{url}");
        }
    }
    let record: Value =
        s.client.get(format!("{}/interventions/{id}", s.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!((record["uses"].as_u64(), record["state"].as_str()), (Some(0), Some("pending")), "{record}");
    assert!(record["submissions"].as_array().unwrap().is_empty(), "{record}");
    assert!(s.continuations().await.is_empty());

    // Ann's and Bob's "Approve" confirm pages, each posted: two votes, one decision.
    let approve: Vec<&String> = urls.iter().filter(|u| !u.contains('?')).collect();
    let mut confirmed = 0;
    for url in approve {
        let page = s.client.get(url).send().await.unwrap().text().await.unwrap();
        if !page.contains("Confirm: Approve") {
            continue;
        }
        let body = format!("_submissionId={}", submission_id_in(&page));
        let status = s.post_form(url, &body).await.status().as_u16();
        assert!(status == 200 || status == 303, "{url}: {status}");
        confirmed += 1;
    }
    assert_eq!(confirmed, 2, "one Approve confirm page per reviewer");
    let queued = s.wait_for_continuations(1).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["outcome"], "approved");
}

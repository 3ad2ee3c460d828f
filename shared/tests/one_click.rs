//! One click, safe against scanners, through the real public router over HTTP on the in-memory store:
//! every link a message could carry (each option's one-click link, the form link, the form link with
//! `?option=`) fetched as a mail scanner does — GET, HEAD, a prefetch, a scanner's user agent following
//! redirects, a JSON client — decides nothing and counts no use; the confirm page's POST decides, with the
//! option its link carries. For the single link and for a quorum's named reviewers.

use std::sync::Arc;

use human_intervention::domain::continuation::Outcome;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::model::Intervention;
use human_intervention::domain::time::{ManualClock, Timestamp};
use human_intervention::domain::token::{LinkKey, LinkKeys};
use human_intervention::memory::{MemoryScheduler, MemoryStore};
use human_intervention::ports::store::InterventionStore;
use human_intervention::service::Service;
use human_intervention::web::routes::public_router;
use serde_json::{json, Value};

const NOW: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z
/// What Microsoft's Safe Links and similar scanners send (a browser's string with the scanner's mark).
const SCANNER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                             Chrome/120.0.0.0 Safari/537.36 Edg/120.0 BingPreview/1.0b";

struct Server {
    base: String,
    keys: Arc<LinkKeys>,
    store: Arc<MemoryStore>,
    service: Service,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
}

async fn server() -> Server {
    let store = Arc::new(MemoryStore::new());
    let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![5; 32]).unwrap(), vec![]).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(NOW)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = Service::new(store.clone(), keys.clone(), clock.clone(), &base)
        .with_scheduler(Arc::new(MemoryScheduler::new()));
    let router = public_router(service.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    // A scanner follows redirects; so does this client (reqwest's default policy, up to 10).
    let http = reqwest::Client::builder().build().unwrap();
    Server { base, keys, store, service, clock, http }
}

/// The example input (one required single choice, the rest optional): a one-click form.
fn example() -> Value {
    serde_json::from_str(include_str!("../../docs/examples/link-creation-input.json")).unwrap()
}

fn quorum() -> Value {
    serde_json::from_str(include_str!("../../docs/examples/quorum.json")).unwrap()
}

impl Server {
    async fn create(&self, input: Value) -> Intervention {
        let created = self.service.create(input.to_string().as_bytes()).await.unwrap();
        self.intervention(&created.intervention_id).await
    }

    async fn intervention(&self, id: &str) -> Intervention {
        self.store.get(&InterventionId::parse(id).unwrap()).await.unwrap().unwrap()
    }

    /// Every link of the intervention a message could carry: for each issued link (the single one, or each
    /// reviewer's but the requester's), the form link and the message's buttons as the service makes them
    /// (here each option's one-click link), and the form with each `?option=` besides.
    /// (reviewer, one-click option index or None, url)
    fn every_url(&self, intervention: &Intervention) -> Vec<(Option<u8>, Option<u8>, String)> {
        let reviewers: Vec<Option<u8>> = if intervention.reviewers.is_empty() {
            vec![None]
        } else {
            (0..intervention.reviewers.len())
                .filter(|i| !intervention.is_requester(*i))
                .map(|i| Some(u8::try_from(i).unwrap()))
                .collect()
        };
        let mut urls = Vec::new();
        for reviewer in reviewers {
            let form_link = self.service.form_link(intervention, reviewer).unwrap();
            urls.push((reviewer, None, form_link.clone()));
            let buttons = self.service.option_links(intervention, reviewer);
            assert_eq!(buttons.len(), 2, "a one-click form's buttons");
            for (index, button) in buttons.into_iter().enumerate() {
                assert!(button.one_click, "{button:?}");
                urls.push((reviewer, None, format!("{form_link}?option={}", button.value)));
                urls.push((reviewer, Some(u8::try_from(index).unwrap()), button.url));
            }
        }
        urls
    }

    /// Fetches `url` as a scanner would, every way; each answers the page (or its JSON), never a decision.
    async fn scan(&self, url: &str, confirms: Option<&str>) {
        let requests = [
            ("GET", vec![]),
            ("HEAD", vec![]),
            ("GET", vec![("sec-purpose", "prefetch"), ("purpose", "prefetch")]),
            ("GET", vec![("x-moz", "prefetch")]),
            ("GET", vec![("user-agent", SCANNER_AGENT)]),
            ("HEAD", vec![("user-agent", SCANNER_AGENT)]),
            ("GET", vec![("accept", "application/json")]),
        ];
        for (method, headers) in requests {
            let mut request = self.http.request(method.parse().unwrap(), url);
            for (name, value) in &headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            let what = format!("{method} {headers:?} {url}");
            assert_eq!(response.status(), 200, "{what}");
            assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
            let json = headers.iter().any(|(name, _)| *name == "accept");
            let body = response.text().await.unwrap();
            if method == "HEAD" {
                assert!(body.is_empty(), "{what}");
            } else if json {
                let page: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(page["state"], "pending", "{what}");
                assert_eq!(page["option"]["label"].as_str(), confirms, "{what}");
            } else {
                assert!(!body.contains("Thank you"), "{what}");
                match confirms {
                    Some(label) => assert!(body.contains(&format!("Confirm: {label}</button>")), "{what}: {body}"),
                    None => assert!(body.contains(">Submit</button>") && !body.contains("Confirm:"), "{what}"),
                }
            }
        }
    }

    /// Nothing was decided or counted: no use, no vote, no continuation, still pending.
    async fn assert_untouched(&self, id: &InterventionId) {
        let intervention = self.store.get(id).await.unwrap().unwrap();
        assert_eq!(intervention.uses, 0);
        assert_eq!((intervention.tally.approvals, intervention.tally.rejections), (0, 0));
        assert!(intervention.decision.is_none() && intervention.reviewed.is_empty());
        assert!(intervention.cancelled_at.is_none() && intervention.timed_out_at.is_none());
        assert!(self.store.continuations(id).await.unwrap().is_empty());
    }

    /// Opens the confirm page and posts its form as a browser would (its hidden submission id, nothing else).
    async fn confirm(&self, url: &str) -> reqwest::Response {
        let page = self.http.get(url).send().await.unwrap().text().await.unwrap();
        let submission_id = hidden_submission_id(&page);
        self.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_submissionId={submission_id}"))
            .send()
            .await
            .unwrap()
    }
}

fn hidden_submission_id(page: &str) -> String {
    let at = page.find("name=\"_submissionId\" value=\"").expect("the page's form has a submission id");
    let rest = &page[at + "name=\"_submissionId\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn option_label(intervention: &Intervention, index: u8) -> String {
    let form = intervention.form.as_deref().unwrap();
    form.one_click_options()[usize::from(index)].label.to_owned()
}

#[tokio::test]
async fn a_scanner_opening_every_link_decides_nothing_and_the_confirm_post_decides_its_option() {
    let s = server().await;
    let intervention = s.create(example()).await;
    let urls = s.every_url(&intervention);
    assert_eq!(urls.len(), 5);
    for (_, option, url) in &urls {
        s.scan(url, option.map(|i| option_label(&intervention, i)).as_deref()).await;
    }
    s.assert_untouched(&intervention.id).await;

    // The confirm page's POST decides, with the option its link carries (here the second, `reject`).
    let (_, _, reject) = urls.iter().find(|(_, option, _)| *option == Some(1)).unwrap();
    let response = s.confirm(reject).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Thank you"));
    let decided = s.intervention(&intervention.id.to_string()).await;
    assert_eq!(decided.uses, 1);
    let continuations = s.store.continuations(&intervention.id).await.unwrap();
    assert_eq!(continuations.len(), 1);
    assert_eq!(continuations[0].outcome, Outcome::Submitted);
    let context = serde_json::to_value(&continuations[0].context).unwrap();
    assert_eq!(context["decision"], "reject");
    // Every link now answers the used-up link's outcome, the other option's included.
    for (_, _, url) in &urls {
        assert_eq!(s.http.get(url).send().await.unwrap().status(), 410, "{url}");
    }
}

#[tokio::test]
async fn a_quorums_option_links_decide_nothing_when_scanned_and_each_confirm_is_that_reviewers_vote() {
    let s = server().await;
    let intervention = s.create(quorum()).await;
    // Ann and Cy (Bob asked): each has the form link, two `?option=` links and two one-click links.
    let urls = s.every_url(&intervention);
    assert_eq!(urls.len(), 10);
    for (_, option, url) in &urls {
        s.scan(url, option.map(|i| option_label(&intervention, i)).as_deref()).await;
    }
    s.assert_untouched(&intervention.id).await;

    let approve = |reviewer: u8| {
        urls.iter().find(|(r, o, _)| *r == Some(reviewer) && *o == Some(0)).map(|(_, _, url)| url.clone()).unwrap()
    };
    assert_eq!(s.confirm(&approve(0)).await.status(), 200);
    let counted = s.intervention(&intervention.id.to_string()).await;
    assert_eq!((counted.tally.approvals, counted.uses), (1, 1));
    assert!(counted.decision.is_none() && s.store.continuations(&intervention.id).await.unwrap().is_empty());
    // Ann's own links are used up; scanning Cy's again still decides nothing.
    for (reviewer, option, url) in urls.iter().filter(|(r, _, _)| *r == Some(2)) {
        assert_eq!(*reviewer, Some(2));
        s.scan(url, option.map(|i| option_label(&intervention, i)).as_deref()).await;
    }
    assert_eq!(s.intervention(&intervention.id.to_string()).await.tally.approvals, 1);

    assert_eq!(s.confirm(&approve(2)).await.status(), 200);
    let continuations = s.store.continuations(&intervention.id).await.unwrap();
    assert_eq!(continuations.len(), 1);
    assert_eq!(continuations[0].outcome, Outcome::Approved);
    assert_eq!(continuations[0].reviewer_id.as_deref(), Some("cy@example.com"));
    for (_, _, url) in &urls {
        assert_eq!(s.http.get(url).send().await.unwrap().status(), 410, "{url}");
    }
}

#[tokio::test]
async fn a_one_click_link_answers_only_its_own_option_and_an_option_never_issued_is_not_found() {
    let s = server().await;
    let intervention = s.create(example()).await;
    let (id, at) = (&intervention.id, intervention.expires_at);
    let approve = format!("{}/i/{}", s.base, s.keys.sign_option(id, at, None, 0));
    let post = |url: String, body: &'static str| {
        s.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };

    // Another option posted on the approve link is refused at the field, by name; nothing is counted.
    let response = post(approve.clone(), "decision=reject&note=x").await.unwrap();
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("This link confirms “approve”; it cannot answer “reject”."), "{page}");
    assert!(page.contains("Confirm: approve</button>"), "the confirm page again: {page}");
    let response = s.http.post(&approve).header("content-type", "application/json").body(r#"{"decision": "reject"}"#);
    let answer: Value = response.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["error"]["code"], "invalid_input");
    assert!(answer["error"]["fields"]["decision"].as_str().unwrap().starts_with("This link confirms"), "{answer}");
    s.assert_untouched(id).await;

    // An index past the options, a one-click link for a reviewer the intervention does not have, and a
    // one-click link to a form that is not one-click: links never issued, on view and on use.
    let past = format!("{}/i/{}", s.base, s.keys.sign_option(id, at, None, 2));
    let reviewer = format!("{}/i/{}", s.base, s.keys.sign_option(id, at, Some(0), 0));
    let mut two_required = example();
    two_required["formDocument"]["fields"][2]["required"] = json!(true);
    let not_one_click = s.create(two_required).await;
    let (other, other_at) = (&not_one_click.id, not_one_click.expires_at);
    let never = format!("{}/i/{}", s.base, s.keys.sign_option(other, other_at, None, 0));
    for url in [&past, &reviewer, &never] {
        assert_eq!(s.http.get(url).send().await.unwrap().status(), 404, "{url}");
        assert_eq!(post(url.clone(), "decision=approve").await.unwrap().status(), 404, "{url}");
    }
    s.assert_untouched(id).await;
    s.assert_untouched(other).await;

    // The same option posted again (a JSON client that sends it) is the link's answer.
    let response = s
        .http
        .post(&approve)
        .header("content-type", "application/json")
        .header("idempotency-key", "one-click-1")
        .body(r#"{"decision": "approve", "note": "ok"}"#);
    let answer: Value = response.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["status"], "accepted", "{answer}");
    let context = serde_json::to_value(&s.store.continuations(id).await.unwrap()[0].context).unwrap();
    assert_eq!((&context["decision"], &context["note"]), (&json!("approve"), &json!("ok")));
}

#[tokio::test]
async fn without_one_click_each_button_opens_the_form_with_its_option_chosen_and_decides_nothing() {
    let s = server().await;
    let mut input = example();
    input["formDocument"]["fields"][2]["required"] = json!(true);
    input["formDocument"]["fields"][0]["options"] = json!(["approve", {"value": "needs work", "label": "Needs work"}]);
    let intervention = s.create(input).await;
    let form = s.service.form_link(&intervention, None).unwrap();
    let buttons = s.service.option_links(&intervention, None);
    let shown: Vec<_> = buttons.iter().map(|b| (b.label.as_str(), b.url.as_str(), b.one_click)).collect();
    let (approve, needs_work) = (format!("{form}?option=approve"), format!("{form}?option=needs+work"));
    assert_eq!(shown, [("approve", approve.as_str(), false), ("Needs work", needs_work.as_str(), false)]);
    for button in &buttons {
        s.scan(&button.url, None).await;
        let page = s.http.get(&button.url).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(&format!("value=\"{}\" checked", button.value)), "{page}");
    }
    s.assert_untouched(&intervention.id).await;
}

#[tokio::test]
async fn the_form_link_preselects_its_option_from_the_query_and_ignores_an_unknown_one() {
    let s = server().await;
    let intervention = s.create(example()).await;
    let form = format!("{}/i/{}", s.base, s.keys.sign(&intervention.id, intervention.expires_at));
    let http = &s.http;
    let page = |url: String| async move { http.get(url).send().await.unwrap().text().await.unwrap() };
    let chosen = page(format!("{form}?option=reject")).await;
    assert!(chosen.contains(r#"value="reject" checked"#), "{chosen}");
    assert!(!chosen.contains(r#"value="approve" checked"#), "{chosen}");
    // On a one-click link the token's option stands, whatever the query says.
    let approve = format!("{}/i/{}", s.base, s.keys.sign_option(&intervention.id, intervention.expires_at, None, 0));
    assert!(page(format!("{approve}?option=reject")).await.contains("Confirm: approve</button>"));
    for query in ["", "?option=maybe", "?option=", "?other=reject", "?option=%ZZ"] {
        let plain = page(format!("{form}{query}")).await;
        assert!(!plain.contains("checked"), "{query}: {plain}");
    }
    s.assert_untouched(&intervention.id).await;
}

#[tokio::test]
async fn a_one_click_link_dies_as_the_form_link_does_when_cancelled_or_expired() {
    let s = server().await;
    let (cancelled, expiring) = (s.create(example()).await, s.create(example()).await);
    s.service.cancel(&cancelled.id).await.unwrap();
    let link = |i: &Intervention| format!("{}/i/{}", s.base, s.keys.sign_option(&i.id, i.expires_at, None, 0));
    s.clock.set(expiring.expires_at);
    for url in [link(&cancelled), link(&expiring)] {
        assert_eq!(s.http.get(&url).send().await.unwrap().status(), 410, "{url}");
        let response = s.http.post(&url).header("content-type", "application/x-www-form-urlencoded").body("");
        let response = response.header("accept", "application/json").send().await.unwrap();
        assert_eq!(response.status(), 410, "{url}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "link_expired", "{url}");
    }
    assert!(s.store.continuations(&expiring.id).await.unwrap().is_empty());
}

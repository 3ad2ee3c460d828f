//! Rendered form pages, kept per link and state: rendering is half of a page view's work, and a link's page
//! only changes with what its key holds. A view still judges the link (its use, a cancel, a decision, the
//! expiry) before a kept page is served; each copy gets its own submission id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;
use crate::service::LivePage;

/// Most bytes of pages kept at once (a 20-field page is about 20 KB; a function has 128 MB in all): when the
/// next page would not fit, all are dropped and kept again as they are viewed.
pub const MAX_KEPT_BYTES: usize = 4 * 1024 * 1024;

/// Everything a live link's HTML page shows but its submission id: the intervention's form, context,
/// action and reviewers are fixed at creation; what changes (the expiry, by an extension, and the quorum's
/// approvals) is part of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PageKey {
    intervention: InterventionId,
    reviewer: Option<usize>,
    option: Option<String>,
    chosen: Option<String>,
    expires_at: Timestamp,
    approvals: Option<u32>,
}

impl PageKey {
    /// The key of `page` with the option `chosen` for its button field (a link's `?option=`), if any.
    pub(super) fn of(page: &LivePage, chosen: Option<&str>) -> Self {
        let intervention = &page.intervention;
        Self {
            intervention: intervention.id,
            reviewer: page.reviewer,
            option: page.option.clone(),
            chosen: chosen.map(str::to_owned),
            expires_at: intervention.expires_at,
            approvals: intervention.quorum.as_ref().map(|_| intervention.tally.approvals),
        }
    }
}

/// A kept page, split where its submission id goes.
#[derive(Debug)]
struct Kept {
    before: String,
    after: String,
}

/// The kept pages of one router (each router has its own: nothing is shared between services).
#[derive(Debug, Default)]
pub struct KeptPages {
    pages: Mutex<Pages>,
}

#[derive(Debug, Default)]
struct Pages {
    by_key: HashMap<PageKey, Arc<Kept>>,
    bytes: usize,
}

impl KeptPages {
    /// The page kept under `key`, with `submission_id` in it.
    pub(super) fn page(&self, key: &PageKey, submission_id: &str) -> Option<String> {
        let kept = self.pages.lock().ok()?.by_key.get(key).cloned()?;
        let mut page = String::with_capacity(kept.before.len() + submission_id.len() + kept.after.len());
        page.push_str(&kept.before);
        page.push_str(submission_id);
        page.push_str(&kept.after);
        Some(page)
    }

    /// Keeps `page`, rendered with `submission_id`, under `key`: only if the id is in it exactly once (a
    /// random 128-bit id; anything else would be a page that cannot be split safely, and is not kept).
    pub(super) fn keep(&self, key: PageKey, page: &str, submission_id: &str) {
        let mut found = page.match_indices(submission_id);
        let (Some((at, _)), None) = (found.next(), found.next()) else { return };
        if page.len() > MAX_KEPT_BYTES / 4 {
            return;
        }
        let kept = Kept { before: page[..at].to_owned(), after: page[at + submission_id.len()..].to_owned() };
        let Ok(mut pages) = self.pages.lock() else { return };
        if pages.bytes + page.len() > MAX_KEPT_BYTES {
            pages.by_key.clear();
            pages.bytes = 0;
        }
        if let Some(replaced) = pages.by_key.insert(key, Arc::new(kept)) {
            pages.bytes -= replaced.before.len() + replaced.after.len();
        }
        pages.bytes += page.len() - submission_id.len();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Request};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::domain::time::{ManualClock, Timestamp};
    use crate::domain::token::{LinkKey, LinkKeys};
    use crate::memory::MemoryStore;
    use crate::service::Service;
    use crate::web::routes::public_router;

    const START: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z

    struct Reviewer {
        router: axum::Router,
        service: Service,
        clock: Arc<ManualClock>,
    }

    impl Reviewer {
        fn new() -> Self {
            let keys = Arc::new(LinkKeys::new(LinkKey::new("k1", vec![5; 32]).unwrap(), vec![]).unwrap());
            let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
            let service = Service::new(Arc::new(MemoryStore::new()), keys, clock.clone(), "https://l.example/")
                .with_scheduler(Arc::new(crate::memory::MemoryScheduler::new()));
            Self { router: public_router(service.clone()), service, clock }
        }

        async fn create(&self, input: Value) -> Value {
            let created = self.service.create(input.to_string().as_bytes()).await.unwrap();
            serde_json::to_value(created).unwrap()
        }

        async fn get(&self, link: &str) -> (u16, String) {
            let path = &link[link.find("/i/").unwrap()..];
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }

        async fn post(&self, link: &str, body: &str) -> u16 {
            let path = &link[link.find("/i/").unwrap()..];
            let request = Request::builder()
                .method("POST")
                .uri(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .unwrap();
            self.router.clone().oneshot(request).await.unwrap().status().as_u16()
        }
    }

    fn submission_id(page: &str) -> &str {
        let marker = "name=\"_submissionId\" value=\"";
        let at = page.find(marker).expect("the form's submission id") + marker.len();
        &page[at..at + page[at..].find('"').unwrap()]
    }

    fn example(max_uses: u32) -> Value {
        let mut input = crate::domain::creation::tests::example();
        input["maxUrlUses"] = json!(max_uses);
        input
    }

    fn key(n: u32) -> super::PageKey {
        super::PageKey {
            intervention: crate::domain::id::InterventionId::random().unwrap(),
            reviewer: None,
            option: None,
            chosen: None,
            expires_at: Timestamp::from_millis(START),
            approvals: Some(n),
        }
    }

    #[test]
    fn kept_pages_stay_within_their_bytes_and_a_page_that_cannot_be_split_is_not_kept() {
        let kept = super::KeptPages::default();
        let page = |id: &str| format!("{}<input value=\"{id}\">{}", "a".repeat(200_000), "b".repeat(200_000));
        let keys: Vec<_> = (0..30).map(key).collect();
        for (i, key) in keys.iter().enumerate() {
            kept.keep(key.clone(), &page(&format!("id{i:03}")), &format!("id{i:03}"));
            let bytes = kept.pages.lock().unwrap().bytes;
            assert!(bytes <= super::MAX_KEPT_BYTES, "{bytes}");
        }
        assert_eq!(kept.page(&keys[29], "fresh"), Some(page("fresh")));
        assert_eq!(kept.page(&keys[0], "fresh"), None, "dropped to make room");
        let twice = key(99);
        kept.keep(twice.clone(), "<b>same</b><i>same</i>", "same");
        assert_eq!(kept.page(&twice, "x"), None, "the id twice: not kept");
        let huge = key(100);
        kept.keep(huge.clone(), &format!("{}<input value=\"id\">", "a".repeat(1_100_000)), "id");
        assert_eq!(kept.page(&huge, "x"), None, "over a quarter of the bytes: not kept");
    }

    #[tokio::test]
    async fn a_kept_page_is_the_page_rendered_again_with_its_own_submission_id() {
        let r = Reviewer::new();
        let link = r.create(example(2)).await["context"]["approval.url"].as_str().unwrap().to_owned();
        let (status, first) = r.get(&link).await;
        assert_eq!(status, 200);
        let (_, second) = r.get(&link).await;
        assert_ne!(submission_id(&first), submission_id(&second), "a fresh id on every view");
        assert_eq!(first.replace(submission_id(&first), submission_id(&second)), second);
        // A page rendered by a router that kept nothing is the same page.
        let (_, fresh) = Reviewer { router: public_router(r.service.clone()), ..r }.get(&link).await;
        assert_eq!(fresh.replace(submission_id(&fresh), submission_id(&second)), second);
    }

    #[tokio::test]
    async fn no_kept_page_outlives_a_use_a_cancel_or_the_expiry() {
        let r = Reviewer::new();
        let answer = |id: &str| format!("decision=approve&refund.amount=100&note=ok&_submissionId={id}");
        // Used up: the second use is the last.
        let link = r.create(example(2)).await["context"]["approval.url"].as_str().unwrap().to_owned();
        let (_, page) = r.get(&link).await;
        assert_eq!(r.post(&link, &answer(submission_id(&page))).await, 200);
        let (status, page) = r.get(&link).await;
        assert_eq!(status, 200, "one use left");
        assert_eq!(r.post(&link, &answer(submission_id(&page))).await, 200);
        assert_eq!(r.get(&link).await.0, 410, "used up");
        // Cancelled.
        let created = r.create(example(3)).await;
        let link = created["context"]["approval.url"].as_str().unwrap().to_owned();
        assert_eq!(r.get(&link).await.0, 200);
        let id = crate::domain::id::InterventionId::parse(created["interventionId"].as_str().unwrap()).unwrap();
        r.service.cancel(&id).await.unwrap();
        assert_eq!(r.get(&link).await.0, 410, "cancelled");
        // Expired.
        let link = r.create(example(3)).await["context"]["approval.url"].as_str().unwrap().to_owned();
        assert_eq!(r.get(&link).await.0, 200);
        r.clock.set(Timestamp::from_millis(START + 3_600_000));
        assert_eq!(r.get(&link).await.0, 410, "expired");
    }

    #[tokio::test]
    async fn a_quorums_page_shows_the_approvals_so_far_after_each_vote() {
        let r = Reviewer::new();
        let mut input = example(1);
        input.as_object_mut().unwrap().remove("maxUrlUses");
        input["reviewers"] = json!([{"id": "a", "name": "Ann"}, {"id": "b", "name": "Bob"}, {"id": "c", "name": "Cy"}]);
        input["quorum"] = json!({"approvals": 3, "field": "decision", "approve": "approve", "reject": "reject"});
        let links = r.create(input).await["context"]["approval.url"].clone();
        let link = |id: &str| links[id].as_str().unwrap().to_owned();
        let (_, before) = r.get(&link("c")).await;
        assert!(before.contains("0 of 3"), "{before}");
        let (_, ann) = r.get(&link("a")).await;
        let vote = format!("decision=approve&refund.amount=100&note=ok&_submissionId={}", submission_id(&ann));
        assert_eq!(r.post(&link("a"), &vote).await, 200);
        let (_, after) = r.get(&link("c")).await;
        assert!(after.contains("1 of 3"), "{after}");
    }
}

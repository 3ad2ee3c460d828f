//! End to end through the local server's HTTP routes: create → view → submit → continuation, and every
//! refusal a reviewer or a workflow can meet.

use human_intervention::domain::time::Timestamp;
use intervention_tests::{design_example, example, submission_id_in, TestServer};
use serde_json::{json, Value};

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-robots-tag", "noindex, nofollow"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
];

fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let csp = headers.get("content-security-policy").expect("CSP").to_str().unwrap();
    for directive in ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(headers.get(name).map(|v| v.to_str().unwrap()), Some(value), "{name} on {}", response.status());
    }
    if let Some(content_type) = headers.get("content-type") {
        let content_type = content_type.to_str().unwrap();
        if content_type.starts_with("text/") {
            assert!(content_type.contains("charset=utf-8"), "{content_type}");
        }
    }
}

#[tokio::test]
async fn create_view_submit_and_the_continuation_is_queued_with_the_merged_context() {
    let t = TestServer::start().await;
    let (link, id) = t.create(&example()).await;
    assert!(link.starts_with(&format!("{}/i/v1.", t.url)), "{link}");

    let page = t.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_security_headers(&page);
    let html = page.text().await.unwrap();
    assert!(html.contains("Approve refund"));
    assert!(html.contains("A-1001"), "shown context value");
    assert!(html.contains("120.5"), "prefilled amount");
    assert!(!html.contains("a@example.com"), "a secret value never reaches the page");
    let submission_id = submission_id_in(&html);

    let body = format!("decision=approve&refund.amount=99.50&note=Looks+fine&status=approved&order.id=evil&_submissionId={submission_id}");
    let response = t.post_form(&link, &body).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let html = response.text().await.unwrap();
    assert!(html.contains("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"), "the success page shows the correlation id");

    let queued = t.wait_for_continuations(1).await;
    assert_eq!(queued.len(), 1);
    let c = &queued[0];
    assert_eq!(c["version"], json!(1));
    assert_eq!(c["id"], json!(format!("{id}:{submission_id}")));
    assert_eq!(c["outcome"], json!("submitted"));
    assert_eq!(c["environmentId"], json!("prod-eu"));
    assert_eq!(c["correlationId"], json!("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"));
    assert_eq!(c["ruleSetId"], json!("refund-continue"));
    assert_eq!(c["interventionId"], json!(id));
    assert_eq!(c["submissionId"], json!(submission_id));
    assert_eq!(c["countsAgainstAllowance"], json!(true));
    assert!(Timestamp::parse_rfc3339(c["submittedAt"].as_str().unwrap()).is_some());
    assert_eq!(
        c["context"],
        json!({"order.id": "A-1001", "order.amount": 120.5, "customer.email": "a@example.com",
               "decision": "approve", "refund.amount": 99.5, "note": "Looks fine"}),
        "the form input wins, keys not on the form never reach the context"
    );
    assert!(!c.to_string().contains("/i/v1."), "the link (a credential) is never in a continuation");

    // The double click: the same post again is the same submission, answered as the first.
    let again = t.post_form(&link, &body).await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"));
    let other = t.post_form(&link, "decision=approve&_submissionId=another").await;
    assert_eq!(other.status(), 410);
    assert!(other.text().await.unwrap().contains("Already used the maximum number of times"));
    let view = t.client.get(&link).send().await.unwrap();
    assert_eq!(view.status(), 410);
    assert!(view.text().await.unwrap().contains("Already used the maximum number of times"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(t.continuations().await.len(), 1, "exactly one continuation");
}

#[tokio::test]
async fn a_json_client_completes_an_intervention_with_an_idempotency_key() {
    let t = TestServer::start().await;
    let mut input = example();
    input["maxUrlUses"] = json!(2);
    let (link, _) = t.create(&input).await;
    let view: Value =
        t.client.get(&link).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
    assert_eq!(view["state"], json!("pending"));
    assert_eq!(view["title"], json!("Approve refund"));
    assert_eq!(view["details"], json!({"order.id": "A-1001", "order.amount": 120.5}));
    assert_eq!(view["fields"][1]["value"], json!("120.5"));
    assert!(view["fields"][1].get("prefill").is_none());
    assert!(!view.to_string().contains("a@example.com"));

    let post = || {
        t.client
            .post(&link)
            .header("accept", "application/json")
            .header("idempotency-key", "bot-1")
            .json(&json!({"decision": "reject", "note": "from a bot"}))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first,
        json!({"status": "accepted", "correlationId": "0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10", "submissionId": "bot-1"})
    );
    let second: Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(second, first);
    let conflict = t
        .client
        .post(&link)
        .header("idempotency-key", "bot-1")
        .json(&json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), 409);
    assert_eq!(conflict.json::<Value>().await.unwrap()["error"]["code"], json!("conflicting_resubmission"));
    let invalid = t.client.post(&link).json(&json!({"decision": "maybe"})).send().await.unwrap();
    assert_eq!(invalid.status(), 422);
    let invalid: Value = invalid.json().await.unwrap();
    assert_eq!(invalid["error"]["code"], json!("invalid_input"));
    assert!(invalid["error"]["fields"]["decision"].is_string());
    assert_eq!(t.wait_for_continuations(1).await.len(), 1);
}

#[tokio::test]
async fn validation_keeps_every_typed_value_and_counts_no_use() {
    let t = TestServer::start().await;
    let (link, _) = t.create(&example()).await;
    let response = t
        .post_form(&link, "decision=&refund.amount=5000&note=%3Cscript%3Ealert(1)%3C%2Fscript%3E&_submissionId=s1")
        .await;
    assert_eq!(response.status(), 422);
    assert_security_headers(&response);
    let html = response.text().await.unwrap();
    assert!(html.contains("This field is required."));
    assert!(html.contains("Enter a number of at most 1000."));
    assert!(html.contains("value=\"5000\""), "the typed amount is kept");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the typed note is kept, escaped");
    assert!(!html.contains("<script>"));
    assert_eq!(submission_id_in(&html), "s1", "the form posts again under the same submission id");
    let ok = t.post_form(&link, "decision=approve&_submissionId=s1").await;
    assert_eq!(ok.status(), 200, "the failed attempt counted no use");
}

#[tokio::test]
async fn every_rejection_has_its_status_and_exact_text() {
    let start = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    let (t, clock) = TestServer::with_manual_clock(start).await;
    let example = design_example("2026-11-25T12:00:00Z");

    // Not found: forged, truncated, unknown, percent-encoded, trailing slash.
    let (link, id) = t.create(&example).await;
    let token = link.rsplit('/').next().unwrap();
    let mut forged = token.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let encoded = token.replacen('v', "%76", 1);
    for bad in [forged.as_str(), &token[..token.len() - 1], "nope", encoded.as_str(), &format!("{token}/")] {
        for json in [false, true] {
            let mut request = t.client.get(format!("{}/i/{bad}", t.url));
            if json {
                request = request.header("accept", "application/json");
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{bad}");
            assert_security_headers(&response);
            let text = response.text().await.unwrap();
            if json {
                assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"]["code"], json!("not_found"));
            } else {
                assert!(text.contains("Not found"), "{bad}");
            }
        }
        let response = t.post_form(&format!("{}/i/{bad}", t.url), "decision=approve").await;
        assert_eq!(response.status(), 404);
    }

    // Expired: one millisecond before expiry works, at expiry it is gone.
    clock.set(start.plus_millis(3_600_000 - 1));
    assert_eq!(t.client.get(&link).send().await.unwrap().status(), 200);
    clock.set(start.plus_millis(3_600_000));
    let expired = t.client.get(&link).send().await.unwrap();
    assert_eq!(expired.status(), 410);
    assert_security_headers(&expired);
    assert!(expired.text().await.unwrap().contains("Link has expired"));
    let expired_post = t.post_form(&link, "decision=nonsense").await;
    assert_eq!(expired_post.status(), 410, "the link's state comes before input validation");

    // Cancelled: the run is no longer available.
    clock.set(start);
    let (link, id2) = t.create(&example).await;
    assert_ne!(id, id2);
    let cancel = t.client.post(format!("{}/interventions/{id2}/cancel", t.url)).send().await.unwrap();
    assert_eq!(cancel.status(), 200);
    let response = t.client.get(&link).header("accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), 410);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        json!({"code": "link_expired", "message": "Link has expired"})
    );
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 410);
    let unknown = t.client.post(format!("{}/interventions/AAAAAAAAAAAAAAAAAAAAAA/cancel", t.url)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // Used up.
    let (link, _) = t.create(&example).await;
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 200);
    let used = t.post_form(&link, "decision=approve").await;
    assert_eq!(used.status(), 410);
    assert!(used.text().await.unwrap().contains("Already used the maximum number of times"));
    assert_eq!(t.wait_for_continuations(1).await.len(), 1);
}

#[tokio::test]
async fn a_cancel_after_an_answer_is_too_late_and_keeps_the_state_and_a_reused_key_is_409() {
    let t = TestServer::start().await;
    let (link, id) = t.create(&example()).await;
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 200);
    let queued = t.wait_for_continuations(1).await;
    let cancel = t.client.post(format!("{}/interventions/{id}/cancel", t.url)).send().await.unwrap();
    assert_eq!(cancel.status(), 409);
    let body: Value = cancel.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_late");
    assert_eq!(body["state"], "completed");
    assert_eq!(body["continuationIds"], json!([queued[0]["id"]]));
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(record["state"], "completed", "the record keeps its real state");

    let mut keyed = example();
    keyed["idempotencyKey"] = json!("run-1/CreateApprovalLink/1");
    let (first_status, first) = t.create_raw(&keyed).await;
    let (again_status, again) = t.create_raw(&keyed).await;
    assert_eq!((first_status, again_status), (200, 200));
    assert_eq!(first, again, "the same intervention, link and expiry");
    keyed["maxUrlUses"] = json!(3);
    let (status, refused) = t.create_raw(&keyed).await;
    assert_eq!(status, 409);
    assert_eq!(refused["errorType"], "IdempotencyKeyReused");
    assert_eq!(refused["field"], "idempotencyKey");
}

#[tokio::test]
async fn scanners_opening_a_link_use_nothing() {
    let t = TestServer::start().await;
    let (link, _) = t.create(&example()).await;
    for agent in ["Microsoft Office Protocol Discovery", "Mozilla/5.0 (compatible; SafeLinks)", "curl/8"] {
        for _ in 0..7 {
            assert_eq!(t.client.get(&link).header("user-agent", agent).send().await.unwrap().status(), 200);
            assert_eq!(t.client.head(&link).header("user-agent", agent).send().await.unwrap().status(), 200);
        }
    }
    assert!(t.continuations().await.is_empty());
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 200, "the human still has their use");
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let t = TestServer::start().await;
    let (link, _) = t.create(&example()).await;
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (Some("application/x-www-form-urlencoded"), b"decision=approve&note=%FF".to_vec(), 400, "not valid UTF-8"),
        (
            Some("application/x-www-form-urlencoded"),
            b"decision=approve&decision=reject".to_vec(),
            400,
            "more than once",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"decision=approve&_submissionId=a&_submissionId=b".to_vec(),
            400,
            "more than once",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            format!("note={}", "a".repeat(70_000)).into_bytes(),
            413,
            "larger than",
        ),
        (Some("application/x-www-form-urlencoded"), "a=1&".repeat(1_001).into_bytes(), 413, "more than"),
        (Some("text/plain"), b"decision=approve".to_vec(), 415, "not supported"),
        (None, b"decision=approve".to_vec(), 415, "missing"),
        (Some("application/x-www-form-urlencoded; charset=iso-8859-1"), b"decision=approve".to_vec(), 400, "charset"),
        (Some("application/json"), b"{\"decision\": ".to_vec(), 400, "JSON"),
    ];
    for (content_type, body, status, says) in cases {
        let mut request = t.client.post(&link).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{content_type:?} {says}");
        assert_security_headers(&response);
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{status}: expected {says:?} in {text}");
    }
    for method in ["PUT", "PATCH", "DELETE"] {
        let response = t.client.request(method.parse().unwrap(), &link).send().await.unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_security_headers(&response);
        assert_eq!(response.headers()["allow"], "GET, HEAD, POST");
    }
    let long = t.client.get(format!("{}/i/{}", t.url, "a".repeat(10_000))).send().await.unwrap();
    assert_eq!(long.status(), 404);
    assert!(t.continuations().await.is_empty());
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 200, "nothing was used up");
}

#[tokio::test]
async fn bad_link_creation_input_is_refused_by_name_and_stores_nothing() {
    let t = TestServer::start().await;
    let cases = [
        ("formDocument.fields[0].type", json!({"type": "slider"})),
        ("formDocument.fields[0].key", json!({"key": "k".repeat(51)})),
    ];
    for (field, patch) in cases {
        let mut input = example();
        for (k, v) in patch.as_object().unwrap() {
            input["formDocument"]["fields"][0][k] = v.clone();
        }
        let (status, body) = t.create_raw(&input).await;
        assert_eq!(status, 400);
        assert_eq!(body["errorType"], json!("InvalidInterventionConfig"));
        assert_eq!(body["field"], json!(field));
        assert!(body["errorMessage"].as_str().unwrap().starts_with(field));
    }
    let mut input = example();
    input["formDocument"]["fields"][1]["key"] = json!("decision");
    assert_eq!(t.create_raw(&input).await.1["field"], json!("formDocument.fields[1].key"));
    input = example();
    input["urlExpirationHours"] = json!(0);
    assert_eq!(t.create_raw(&input).await.1["field"], json!("urlExpirationHours"));
    input = example();
    input["urlExpirationHours"] = json!(48);
    assert_eq!(t.create_raw(&input).await.1["field"], json!("urlExpirationHours"));
    input = example();
    input["maxUrlUses"] = json!(0);
    assert_eq!(t.create_raw(&input).await.1["field"], json!("maxUrlUses"));
    input = example();
    input["formDocument"]["fields"][1]["prefill"] = json!("order.missing");
    assert_eq!(t.create_raw(&input).await.1["field"], json!("formDocument.fields[1].prefill"));
    let response = t
        .client
        .post(format!("{}/interventions", t.url))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

async fn race(t: &TestServer, max_uses: u32, posts: usize) -> (usize, usize) {
    let mut input = example();
    input["maxUrlUses"] = json!(max_uses);
    let (link, id) = t.create(&input).await;
    let counts = t.post_concurrently(&link, posts).await;
    let accepted = counts.get(&200).copied().unwrap_or(0);
    let used_up = counts.get(&410).copied().unwrap_or(0);
    assert_eq!(accepted + used_up, posts, "no other status (no server errors): {counts:?}");
    let queued = t.wait_for_continuations(accepted).await;
    let mine = queued.iter().filter(|c| c["interventionId"] == json!(id)).count();
    assert_eq!(mine, accepted, "each accepted submission has exactly one continuation");
    (accepted, used_up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_accept_exactly_min_n_max_uses() {
    let t = TestServer::start().await;
    assert_eq!(race(&t, 1, 200).await, (1, 199));
    assert_eq!(race(&t, 5, 200).await, (5, 195));
}

#[tokio::test]
async fn operator_routes_and_the_stylesheet() {
    let t = TestServer::start().await;
    let css = t.client.get(format!("{}/assets/intervention.css", t.url)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_security_headers(&css);
    let missing = t.client.get(format!("{}/nothing-here", t.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing);
    assert_eq!(t.continuations().await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_unanswered_link_times_out_within_a_second_on_the_embedded_server() {
    let start = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    let (t, clock) = TestServer::with_manual_clock(start).await;
    let (link, id) = t.create(&design_example("2026-11-25T12:00:00Z")).await;
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(record["state"], json!("pending"));
    clock.set(start.plus_millis(3_600_000));
    let started = std::time::Instant::now();
    let queued = t.wait_for_continuations(1).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "fired within a second of expiry");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["id"], json!(format!("{id}:timeout")));
    assert_eq!(queued[0]["outcome"], json!("timedOut"));
    assert_eq!(queued[0]["ruleSetId"], json!("refund-timeout"));
    assert_eq!(queued[0]["correlationId"], json!("0b9c5d2e-1f4a-4c55-9a63-3f1f6f1d2e10"));
    assert_eq!(queued[0]["context"]["decision"], json!("reject"));
    let page = t.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("Link has expired"));
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 410);
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(record["state"], json!("timedOut"));
    assert!(!record.to_string().contains("a@example.com"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(t.continuations().await.len(), 1, "exactly one");
}

#[tokio::test]
async fn the_record_routes_refuse_bad_queries_clearly() {
    let t = TestServer::start().await;
    for (query, says) in [
        ("", "environmentId is required"),
        ("?environmentId=e&state=done", "state \\\"done\\\""),
        ("?environmentId=e&limit=0", "limit"),
        ("?environmentId=e&nextToken=%25%25", "nextToken"),
        ("?environmentId=e&colour=red", "colour"),
    ] {
        let response = t.client.get(format!("{}/interventions{query}", t.url)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{query}: {text}");
    }
    let unknown = t.client.get(format!("{}/interventions/AAAAAAAAAAAAAAAAAAAAAA", t.url)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    // An id that does not even decode to UTF-8 is as unknown as any other: the same JSON answer.
    let not_utf8 = t.client.get(format!("{}/interventions/%FF", t.url)).send().await.unwrap();
    assert_eq!(not_utf8.status(), 404);
    assert_eq!(not_utf8.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let cancel = t.client.post(format!("{}/interventions/%FF/cancel", t.url)).send().await.unwrap();
    assert_eq!(cancel.status(), 404);
    assert_eq!(cancel.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let empty: Value =
        t.client.get(format!("{}/interventions?environmentId=none", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(empty, json!({"interventions": []}));
}

#[tokio::test]
async fn a_datetime_past_year_9999_in_utc_answers_422_at_its_field_and_is_refused_as_a_default() {
    let t = TestServer::start().await;
    let mut input = example();
    let datetime = json!({"key": "followUp.at", "label": "Follow up", "type": "datetime"});
    input["formDocument"]["fields"].as_array_mut().unwrap().push(datetime);
    let (link, _) = t.create(&input).await;
    let page = t.post_form(&link, "decision=approve&followUp.at=9999-12-31T23%3A59%3A59-01%3A00").await;
    assert_eq!(page.status(), 422, "an answer, not a dropped connection");
    assert_security_headers(&page);
    assert!(page.text().await.unwrap().contains("before the year 10000"));
    let json = t.client.post(&link).json(&json!({"decision": "approve", "followUp.at": "9999-12-31T23:59:59-01:00"}));
    let json: Value = json.send().await.unwrap().json().await.unwrap();
    assert_eq!(json["error"]["code"], json!("invalid_input"));
    assert!(json["error"]["fields"]["followUp.at"].is_string());

    input["formDocument"]["fields"][3]["default"] = json!("9999-12-31T23:59:59-01:00");
    let (status, body) = t.create_raw(&input).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], json!("formDocument.fields[3].default"));
    assert_eq!(t.post_form(&link, "decision=approve").await.status(), 200, "the server still answers");
}

#[tokio::test]
async fn creation_names_every_refused_setting_type_errors_collisions_lateness_and_prefills_included() {
    let t = TestServer::start().await;
    let refused = |edit: &dyn Fn(&mut Value)| {
        let mut input = example();
        edit(&mut input);
        input
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("maxUrlUses", refused(&|v| v["maxUrlUses"] = json!("3")), "maxUrlUses: invalid type: string \"3\""),
        ("secretKeys", refused(&|v| v["secretKeys"] = json!({})), "secretKeys: invalid type: map"),
        (
            "formDocument.fields[2].minLength",
            refused(&|v| v["formDocument"]["fields"][2]["minLength"] = json!(-1)),
            "formDocument.fields[2].minLength: invalid value: integer `-1`",
        ),
        (
            "generatedUrlContextKey",
            refused(&|v| v["generatedUrlContextKey"] = json!("order.id")),
            "is a key of context",
        ),
        ("onTimeout", refused(&|v| v["urlExpirationHours"] = json!(23.99)), "up to 60 s late"),
        (
            "formDocument.fields[1].prefill",
            refused(&|v| v["context"]["order.amount"] = json!(0.30000000000000004)),
            "context `order.amount`",
        ),
    ];
    for (field, input, says) in cases {
        let (status, body) = t.create_raw(&input).await;
        assert_eq!(status, 400, "{field}");
        assert_eq!(body["errorType"], json!("InvalidInterventionConfig"));
        assert_eq!(body["field"], json!(field), "{body}");
        let message = body["errorMessage"].as_str().unwrap();
        assert!(message.starts_with(field) && message.contains(says), "{field}: {message}");
        assert!(!message.contains("line 1 column"), "{message}");
    }
    let (_, body) = t.create_raw(&json!([1])).await;
    assert_eq!(body["field"], json!(""), "no setting to name in an array");
    assert!(t.continuations().await.is_empty());
}

#[tokio::test]
async fn parsing_policy_json_numbers_out_of_range_are_422_at_their_field_and_bad_ids_are_named_400s() {
    let t = TestServer::start().await;
    let mut input = example();
    input["maxUrlUses"] = json!(3);
    let (link, _) = t.create(&input).await;
    let post = |body: &str| t.client.post(&link).header("content-type", "application/json").body(body.to_owned());
    let response = post(r#"{"decision": "approve", "refund.amount": 1e400}"#).send().await.unwrap();
    assert_eq!(response.status(), 422, "as urlencoded 1e309 is");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["fields"], json!({"refund.amount": "Enter a smaller number."}));

    let bad_key = reqwest::header::HeaderValue::from_bytes(b"retry-\xff").unwrap();
    let response = post(r#"{"decision": "approve"}"#).header("idempotency-key", bad_key).send().await.unwrap();
    assert_eq!(response.status(), 400, "never silently dropped");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("bad_request"));
    assert!(body["error"]["message"].as_str().unwrap().contains("Idempotency-Key header is not UTF-8"), "{body}");

    let response = post(r#"{"decision": "approve", "_submissionId": "body-id"}"#)
        .header("idempotency-key", "header-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "neither id silently wins");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("differ"), "{body}");
    assert!(t.continuations().await.is_empty(), "nothing was accepted");
}

#[tokio::test]
async fn the_link_is_judged_before_the_body_forged_404_expired_410_used_up_410_whatever_was_posted() {
    let start = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    let (t, clock) = TestServer::with_manual_clock(start).await;
    let large = format!("decision=approve&note={}", "a".repeat(70_000));
    let (link, _) = t.create(&design_example("2026-11-25T12:00:00Z")).await;
    let forged = format!("{}A", &link[..link.len() - 1]);
    let forged = if forged == link { format!("{}B", &link[..link.len() - 1]) } else { forged };
    assert_eq!(t.post_form(&forged, &large).await.status(), 404, "a forged link is Not found, not 413");
    assert_eq!(t.post_form(&link, &large).await.status(), 413, "a live link's large body is 413");

    // Used up: a known submission id with other values gets the link's 410, not a 409.
    assert_eq!(t.post_form(&link, "decision=approve&_submissionId=s1").await.status(), 200);
    assert_eq!(t.post_form(&link, "decision=approve&_submissionId=s1").await.status(), 200, "the repeat");
    let other = t.post_form(&link, "decision=reject&_submissionId=s1").await;
    assert_eq!(other.status(), 410);
    assert!(other.text().await.unwrap().contains("Already used the maximum number of times"));
    assert_eq!(t.post_form(&link, &large).await.status(), 410, "a used-up link's large body is its 410");

    // Expired: 410 whatever was posted, a repeat included (the signed expiry decides, no store read).
    let (expiring, _) = t.create(&design_example("2026-11-25T12:00:00Z")).await;
    clock.set(start.plus_millis(3_600_000));
    assert_eq!(t.post_form(&expiring, &large).await.status(), 410);
    let repeat = t.post_form(&link, "decision=approve&_submissionId=s1").await;
    assert_eq!(repeat.status(), 410, "after expiry a repeat is Link has expired");
    assert!(repeat.text().await.unwrap().contains("Link has expired"));
}

#[tokio::test]
async fn operator_routes_refuse_other_hosts_other_origins_and_bodies_not_declared_json() {
    let t = TestServer::start().await;
    let create = |content_type: &str| {
        t.client
            .post(format!("{}/interventions", t.url))
            .header("content-type", content_type.to_owned())
            .body(example().to_string())
    };
    // A page on another origin: a text/plain "simple request" creates nothing.
    let response = create("text/plain").header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], json!("forbidden"));
    let response = create("text/plain").send().await.unwrap();
    assert_eq!(response.status(), 415, "a JSON body must say so");
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], json!("unsupported_media_type"));
    let response = create("application/json").header("origin", "null").send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = create("application/json").header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(response.status(), 403);
    // DNS rebinding: the peer is loopback, the Host is not.
    for path in ["/continuations", "/interventions?environmentId=prod-eu"] {
        let response =
            t.client.get(format!("{}{path}", t.url)).header("host", "evil.example:3000").send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("loopback Host"), "{body}");
    }
    assert!(t.continuations().await.is_empty());
    // The server's own origin, and loopback names, are served.
    let own = t.url.clone();
    let response = create("application/json; charset=utf-8").header("origin", own).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let port = t.server.addr.port();
    let response =
        t.client.get(format!("{}/continuations", t.url)).header("host", format!("localhost:{port}")).send().await;
    assert_eq!(response.unwrap().status(), 200);
    // The public routes are not the operator's: any Host may open a link.
    let (link, _) = t.create(&example()).await;
    let response = t.client.get(&link).header("host", "links.example.com").send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_cancel_says_who_and_why_in_the_record_and_a_body_it_cannot_read_is_refused_by_name() {
    let t = TestServer::start().await;
    let (_, id) = t.create(&example()).await;
    let url = format!("{}/interventions/{id}/cancel", t.url);
    let unreadable = t.client.post(&url).body(r#"{"reasons": "typo"}"#).send().await.unwrap();
    assert_eq!(unreadable.status(), 400);
    let message = unreadable.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("reason") && message.contains("unknown field"), "{message}");
    let too_long = t.client.post(&url).body(json!({"reason": "x".repeat(501)}).to_string()).send().await.unwrap();
    assert_eq!(too_long.status(), 400);
    let cancelled = t.client.post(&url).body(r#"{"reason": "sent to the wrong person"}"#).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    let actions = record["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1, "{record}");
    assert_eq!(
        (&actions[0]["action"], &actions[0]["by"], &actions[0]["reason"]),
        (&json!("cancel"), &json!("local operator"), &json!("sent to the wrong person")),
        "{record}"
    );
    assert!(actions[0]["at"].is_string(), "{record}");
}

// An operator's actions: expire now, re-send, extend.

async fn act(t: &TestServer, id: &str, action: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/interventions/{id}/{action}", t.url);
    let response = t.client.post(url).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn actions_of(t: &TestServer, id: &str) -> Vec<Value> {
    let record: Value =
        t.client.get(format!("{}/interventions/{id}", t.url)).send().await.unwrap().json().await.unwrap();
    record["actions"].as_array().cloned().unwrap_or_default()
}

/// The emails delivered so far, once there are `n` (the local publisher sends within a pass).
async fn emails(t: &TestServer, n: usize) -> Vec<human_intervention::ports::messages::Email> {
    let mut emails = Vec::new();
    for _ in 0..200 {
        emails = t
            .server
            .mailbox
            .delivered()
            .into_iter()
            .filter_map(|d| match d {
                human_intervention::memory::Delivered::Email { email, .. } => Some(email),
                _ => None,
            })
            .collect();
        if emails.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(emails.len(), n, "emails delivered");
    emails
}

/// The form link in an email's text.
fn form_link(email: &human_intervention::ports::messages::Email, base: &str) -> String {
    let text = human_intervention::channels::read::email_part(&email.raw, "text/plain").expect("a text part");
    let at = text.find(base).expect("a link");
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '_')).collect()
}

#[tokio::test]
async fn an_operator_expires_now_the_timeout_is_queued_once_the_link_answers_410_and_the_record_says_who_and_why() {
    let t = TestServer::start().await;
    let (link, id) = t.create(&example()).await;
    let (status, bad) = act(&t, &id, "expire", json!({"reasons": "typo"})).await;
    assert_eq!((status, &bad["field"]), (400, &json!("reasons")), "{bad}");
    let (status, expired) = act(&t, &id, "expire", json!({"reason": "the customer withdrew"})).await;
    assert_eq!(status, 200, "{expired}");
    assert_eq!((&expired["action"], &expired["state"]), (&json!("expire"), &json!("timedOut")), "{expired}");
    assert_eq!(expired["continuationId"], json!(format!("{id}:timeout")));
    let page = t.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("Link has expired"));
    let queued = t.wait_for_continuations(1).await;
    assert_eq!((&queued[0]["id"], &queued[0]["outcome"]), (&json!(format!("{id}:timeout")), &json!("timedOut")));
    let (status, again) = act(&t, &id, "expire", json!({})).await;
    assert_eq!((status, &again["error"]["code"]), (409, &json!("timed_out")), "{again}");
    let (status, cancel) = act(&t, &id, "cancel", json!({})).await;
    assert_eq!((status, &cancel["error"]["code"]), (409, &json!("too_late")), "{cancel}");
    let actions = actions_of(&t, &id).await;
    assert_eq!(actions.len(), 1, "a refused action is not recorded: {actions:?}");
    assert_eq!(
        (&actions[0]["action"], &actions[0]["by"], &actions[0]["reason"]),
        (&json!("expire"), &json!("local operator"), &json!("the customer withdrew"))
    );
    assert_eq!(t.continuations().await.len(), 1, "one continuation");
    let (status, _) = act(&t, "AAAAAAAAAAAAAAAAAAAAAA", "expire", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_operator_resends_the_links_to_those_pending_or_one_reviewer_at_a_corrected_address() {
    let t = TestServer::start().await;
    let mut input = example();
    input.as_object_mut().unwrap().remove("maxUrlUses");
    input["reviewers"] = json!([
        {"id": "ann", "name": "Ann", "notify": {"email": ["ann@example.com"]}},
        {"id": "bob", "name": "Bob", "notify": {"email": ["bob@example.com"]}}
    ]);
    let (_, id) = t.create_for_reviewers(&input).await;
    emails(&t, 2).await;
    let (status, resent) = act(&t, &id, "resend", json!({"reason": "the first emails bounced"})).await;
    assert_eq!(status, 200, "{resent}");
    assert_eq!(resent["messageIds"].as_array().unwrap().len(), 2, "{resent}");
    emails(&t, 4).await;
    let corrected = json!({"reviewer": "ann", "notify": {"email": ["ann@corp.example.com"]}, "reason": "typo"});
    let (status, resent) = act(&t, &id, "resend", corrected).await;
    assert_eq!((status, resent["messageIds"].as_array().unwrap().len()), (200, 1), "{resent}");
    let last = emails(&t, 5).await.pop().unwrap();
    assert_eq!(last.to, vec!["ann@corp.example.com"]);
    for (body, field) in [
        (json!({"reviewer": "carol"}), "reviewer"),
        (json!({"reviewer": "ann", "notify": {"email": ["not an address"]}}), "notify.email[0]"),
        (json!({"notify": {"email": ["ann@example.com"]}}), "reviewer"),
        (json!({"reviewer": 7}), "reviewer"),
    ] {
        let (status, bad) = act(&t, &id, "resend", body).await;
        assert_eq!((status, &bad["field"]), (400, &json!(field)), "{bad}");
    }
    let actions = actions_of(&t, &id).await;
    let names: Vec<_> = actions.iter().map(|a| (a["action"].clone(), a["reviewerId"].clone())).collect();
    assert_eq!(names, vec![(json!("resend"), Value::Null), (json!("resend"), json!("ann"))]);
    assert_eq!(act(&t, &id, "cancel", json!({})).await.0, 200);
    let (status, refused) = act(&t, &id, "resend", json!({})).await;
    assert_eq!((status, &refused["error"]["code"]), (409, &json!("cancelled")), "{refused}");
}

#[tokio::test]
async fn an_extension_keeps_old_links_to_their_expiry_sends_new_ones_and_ends_in_one_continuation() {
    let start = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    let (t, clock) = TestServer::with_manual_clock(start).await;
    let mut input = design_example("2026-11-25T12:00:00Z");
    input["notify"] = json!({"email": ["ann@example.com"]});
    let (old, id) = t.create(&input).await;
    emails(&t, 1).await;
    for (body, code) in [
        (json!({"expiresAt": "2026-11-25T10:30:00Z"}), "not_later"),
        (json!({"expiresAt": "2026-11-25T12:00:01Z"}), "past_run_available_until"),
    ] {
        let (status, refused) = act(&t, &id, "extend", body).await;
        assert_eq!((status, &refused["error"]["code"]), (409, &json!(code)), "{refused}");
    }
    let (status, bad) = act(&t, &id, "extend", json!({"reason": "no date"})).await;
    assert_eq!((status, &bad["field"]), (400, &json!("expiresAt")), "{bad}");
    let body = json!({"expiresAt": "2026-11-25T11:30:00Z", "reason": "the approver is away"});
    let (status, extended) = act(&t, &id, "extend", body).await;
    assert_eq!(status, 200, "{extended}");
    assert_eq!(extended["expiresAt"], json!("2026-11-25T11:30:00.000Z"));
    let new = form_link(&emails(&t, 2).await[1], &format!("{}/i/", t.url));
    assert_ne!(new, old);
    clock.set(Timestamp::parse_rfc3339("2026-11-25T11:00:00.005Z").unwrap());
    assert_eq!(t.client.get(&old).send().await.unwrap().status(), 410, "the old link keeps its expiry");
    assert_eq!(t.client.get(&new).send().await.unwrap().status(), 200, "the new link works");
    let answered = t.post_form(&new, "decision=approve").await;
    assert!(answered.status().is_success() || answered.status().is_redirection(), "{}", answered.status());
    let queued = t.wait_for_continuations(1).await;
    assert_eq!(queued[0]["outcome"], json!("submitted"));
    clock.set(Timestamp::parse_rfc3339("2026-11-25T11:30:01Z").unwrap());
    let actions = actions_of(&t, &id).await;
    assert_eq!(
        (&actions[0]["action"], &actions[0]["expiresAt"], &actions[0]["reason"]),
        (&json!("extend"), &json!("2026-11-25T11:30:00.000Z"), &json!("the approver is away"))
    );
    let (status, late) = act(&t, &id, "extend", json!({"expiresAt": "2026-11-25T11:45:00Z"})).await;
    assert_eq!((status, &late["error"]["code"]), (409, &json!("already_decided")), "{late}");
    assert_eq!(t.continuations().await.len(), 1, "one continuation in the end");
}

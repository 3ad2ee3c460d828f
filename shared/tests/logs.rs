//! The real local server binary, one whole flow, and its log: every line is JSON, every line about the
//! intervention carries its correlation, intervention and environment ids, and no line holds a token, a
//! link, a signing secret or a secret context value.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const SECRET_VALUE: &str = "very-secret-customer@example.com";
const SIGNING_SECRET: &str = "c2lnbmluZy1zZWNyZXQtdGhhdC1tdXN0LW5ldmVyLWJlLWxvZ2dlZA";

#[tokio::test]
async fn one_flow_logs_its_ids_on_every_line_and_no_secret() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_human-intervention-local"))
        .env("PORT", "0")
        .env("LOG_LEVEL", "debug")
        .env("LINK_SIGNING_KEYS", format!("k1:{SIGNING_SECRET}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the local server starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut base = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(link) = line.strip_prefix("Demo link: ") {
            base = link[..link.find("/i/").unwrap()].to_owned();
            break;
        }
    }
    assert!(base.starts_with("http://127.0.0.1:"), "no demo link");

    let client = reqwest::Client::new();
    let input = json!({
        "environmentId": "env-logs", "tier": "Free", "correlationId": "corr-logs-1",
        "runAvailableUntil": "2999-01-01T00:00:00Z", "ruleSetId": "rs", "generatedUrlContextKey": "link",
        "formDocument": { "title": "T", "fields": [{ "key": "ok", "label": "OK", "type": "choice", "options": ["yes"], "required": true }] },
        "context": { "customer.email": SECRET_VALUE, "order": "A-1" },
        "secretKeys": ["customer.email"]
    });
    let created: Value =
        client.post(format!("{base}/interventions")).json(&input).send().await.unwrap().json().await.unwrap();
    let link = created["context"]["link"].as_str().unwrap().to_owned();
    let token = link.rsplit('/').next().unwrap().to_owned();
    let id = created["interventionId"].as_str().unwrap().to_owned();
    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);
    let post = |body: &'static str| {
        client.post(&link).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    assert_eq!(post("ok=no").await.unwrap().status(), 422);
    assert_eq!(post("ok=yes&_submissionId=s1").await.unwrap().status(), 200);
    assert_eq!(post("ok=yes&_submissionId=s2").await.unwrap().status(), 410);
    for _ in 0..50 {
        let queued: Vec<Value> =
            client.get(format!("{base}/continuations")).send().await.unwrap().json().await.unwrap();
        if !queued.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(client.get(format!("{link}x")).send().await.unwrap().status(), 404);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    child.kill().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    child.wait().unwrap();

    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty() || panic!("an empty line in:\n{log}"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let ours: Vec<&Value> = lines.iter().filter(|l| l["interventionId"] == json!(id)).collect();
    let messages: Vec<&str> = ours.iter().filter_map(|l| l["message"].as_str()).collect();
    for expected in ["intervention created", "page viewed", "submission accepted", "continuation queued"] {
        assert!(messages.contains(&expected), "{expected:?} missing from {messages:?}");
    }
    assert!(messages.iter().any(|m| m.contains("validation")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("refused")), "{messages:?}");
    for line in &ours {
        assert_eq!(line["correlationId"], json!("corr-logs-1"), "{line}");
        assert_eq!(line["environmentId"], json!("env-logs"), "{line}");
    }
    for line in &lines {
        let text = line.to_string();
        let refused_token = line["message"] == json!("link refused: not a valid link");
        assert!(refused_token || line.get("correlationId").is_some(), "a line without the ids: {text}");
        for secret in [token.as_str(), link.as_str(), SIGNING_SECRET, SECRET_VALUE] {
            assert!(!text.contains(secret), "a secret in the log: {text}");
        }
    }
}

//! Email through SES v2 on moto: the raw MIME message SES kept, parsed back by an independent parser
//! (mail-parser), reads as rendered with no header injected; SES's refusals, throttling, 5xx and a lost
//! reply on the wire (the fault proxy) map to the port's errors, and a lost reply's email was sent.

use human_intervention::aws::ses::SesMailer;
use human_intervention::channels::email::render_email;
use human_intervention::domain::id::random_id;
use human_intervention::domain::time::Timestamp;
use human_intervention::ports::messages::{ChannelError, Email, Mailer};
use intervention_tests::aws::local_config;
use intervention_tests::faults::{Fault, FaultProxy, Operation, Service};
use intervention_tests::sample_message;
use serde_json::Value;

const SENDER: &str = "approvals@hi.example";

/// The SES v2 client on moto (or on `endpoint`), with the sender verified.
async fn ses(endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    let config = local_config().await;
    let mut builder = aws_sdk_sesv2::config::Builder::from(&config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    let client = aws_sdk_sesv2::Client::from_conf(builder.build());
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("a verified sender");
    client
}

/// An email of the sample message whose subject carries `tag` (to find it among every test's emails).
fn email(tag: &str, title_suffix: &str, from: &str) -> Email {
    let mut content = sample_message(2);
    content.title = format!("Approve refund {tag}{title_suffix}");
    let to = vec!["bob@example.com".to_owned(), "cy@example.com".to_owned()];
    let at = Timestamp::parse_rfc3339("2026-12-07T13:02:05Z").unwrap();
    render_email(&content, &format!("Approvals <{from}>"), &to, &format!("{tag}:bob:request"), at).expect("renders")
}

/// The emails moto's SES kept whose raw message contains `tag`: (source, destinations, raw), from
/// tests/moto/serve.py's `/__ses/sent`.
async fn kept(tag: &str) -> Vec<(String, Vec<String>, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("moto's endpoint");
    let data: Value = reqwest::get(format!("{endpoint}/__ses/sent")).await.unwrap().json().await.unwrap();
    let sent = data["sent"].as_array().cloned().expect("the emails SES kept");
    sent.iter()
        .filter(|m| m["raw"].as_str().is_some_and(|r| r.contains(tag)))
        .map(|m| {
            let destinations =
                m["destinations"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
            (m["source"].as_str().unwrap().to_owned(), destinations, m["raw"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn an_email_sent_through_ses_parses_back_as_rendered_with_no_header_injected() {
    let mailer = SesMailer::new(ses(None).await);
    let tag = random_id(9).unwrap();
    let sent = email(&tag, "\r\nBcc: evil@example.com", SENDER);
    let message_id = mailer.send(&sent).await.expect("SES takes it");
    assert!(!message_id.is_empty());

    let kept = kept(&tag).await;
    assert_eq!(kept.len(), 1, "one email kept");
    let (source, destinations, raw) = &kept[0];
    assert_eq!(source, SENDER);
    let mut destinations = destinations.clone();
    destinations.sort();
    destinations.dedup();
    assert!(
        destinations.iter().all(|d| d.ends_with("bob@example.com") || d.ends_with("cy@example.com")),
        "{destinations:?}"
    );
    assert_eq!(raw.as_bytes(), sent.raw.as_slice(), "SES kept the bytes sent");

    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("valid MIME");
    assert_eq!(parsed.subject(), Some(format!("Approve refund {tag}  Bcc: evil@example.com").as_str()));
    assert!(parsed.bcc().is_none() && parsed.headers().iter().all(|h| !h.name().eq_ignore_ascii_case("bcc")));
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Approvals"), Some(SENDER)));
    let to: Vec<&str> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["bob@example.com", "cy@example.com"]);
    assert_eq!(parsed.message_id(), Some(format!("{tag}=3Abob=3Arequest@hi.example").as_str()));
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    assert!(parsed.header_raw("Content-Type").unwrap().contains("multipart/alternative"));
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("Refund **120.50 EUR** to the customer?") && text.contains("Approve: https://hi.example/i/v3.0"),
        "{text}"
    );
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains("<strong>120.50 EUR</strong>") && html.contains("href=\"https://hi.example/i/v3.1\""),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
}

#[tokio::test]
async fn an_unverified_sender_is_refused_for_good() {
    let mailer = SesMailer::new(ses(None).await);
    let tag = random_id(9).unwrap();
    let error = mailer.send(&email(&tag, "", "nobody@unverified.example")).await.unwrap_err();
    assert!(matches!(error, ChannelError::Refused(ref r) if r.starts_with("MessageRejected: ")), "{error:?}");
    assert!(kept(&tag).await.is_empty());
}

#[tokio::test]
async fn ses_faults_on_the_wire_map_to_the_port_s_errors_and_a_lost_reply_was_sent() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("moto's endpoint");
    let proxy = FaultProxy::start(Service::Ses, &endpoint).await;
    let mailer = SesMailer::new(ses(Some(&proxy.url())).await);
    let tag = random_id(9).unwrap();
    let sent = email(&tag, "", SENDER);

    let cases = [
        (Fault::Throttling, "retry"),
        (Fault::InternalServerError, "retry"),
        (Fault::ServiceUnavailable, "retry"),
        (Fault::SesRefused("AccountSuspendedException"), "refused"),
        (Fault::SesRefused("MessageRejected"), "refused"),
    ];
    for (fault, expected) in cases {
        proxy.set(Operation::SendEmail, fault.times(1));
        let error = mailer.send(&sent).await.unwrap_err();
        let class = match &error {
            ChannelError::Retry { .. } => "retry",
            ChannelError::Refused(_) => "refused",
            ChannelError::Unconfirmed(_) => "unconfirmed",
        };
        assert_eq!(class, expected, "{fault:?}: {error:?}");
    }
    assert!(kept(&tag).await.is_empty(), "no fault that stops a request sent an email");

    proxy.set(Operation::SendEmail, Fault::DropResponse.times(1));
    let error = mailer.send(&sent).await.unwrap_err();
    assert!(matches!(error, ChannelError::Unconfirmed(_)), "{error:?}");
    proxy.settled(std::time::Duration::from_secs(5)).await;
    assert_eq!(kept(&tag).await.len(), 1, "the lost reply's email was sent: a retry would be a second");

    mailer.send(&sent).await.expect("sent once the faults are over");
    let counts = proxy.counts(&Operation::SendEmail);
    assert_eq!((counts.received, counts.forwarded, counts.faults()), (7, 2, 6), "one attempt per send: {counts:?}");

    // Nothing listening: the request never left, so trying again is safe.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = SesMailer::new(ses(Some(&format!("http://127.0.0.1:{port}"))).await);
    let error = nowhere.send(&sent).await.unwrap_err();
    assert!(matches!(error, ChannelError::Retry { .. }), "{error:?}");
}

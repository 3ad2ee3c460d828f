//! The Slack and Teams clients against strict fakes of the providers (tests/src/fakes): what is sent is
//! what the provider takes, every refusal and fault maps to the port's error, and a lost reply is
//! unconfirmed while the provider kept the message.

use std::collections::BTreeMap;

use human_intervention::channels::slack::{render_slack, render_slack_closed};
use human_intervention::channels::slack_client::SlackClient;
use human_intervention::channels::teams::render_teams;
use human_intervention::channels::teams_client::TeamsClient;
use human_intervention::domain::message::MessageContent;
use human_intervention::ports::messages::{ChannelError, SlackApi, SlackMessage, SlackPosted, TeamsApi, TeamsCard};
use intervention_tests::fakes::slack::{self, SlackFake};
use intervention_tests::fakes::teams::TeamsFake;
use intervention_tests::fakes::Fault;
use serde_json::json;

fn content(buttons: usize) -> MessageContent {
    intervention_tests::sample_message(buttons)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn a_slack_request_is_posted_and_later_reads_as_decided_without_buttons() {
    let fake = SlackFake::start().await;
    let client = SlackClient::new(slack::TOKEN, &fake.api_url()).unwrap();
    let message = render_slack(&content(2), slack::APPROVALS).unwrap();
    let posted = client.post(&message).await.unwrap();
    assert_eq!(posted.channel, slack::APPROVALS);
    let direct = client.post(&render_slack(&content(2), "U0ANN").unwrap()).await.unwrap();
    assert_eq!(direct.channel, "D0ANN", "a user is written to in their DM");

    let closed = render_slack_closed(&content(2), "Approved by Ann Example, 14:02 UTC", slack::APPROVALS).unwrap();
    client.update(&posted, &closed).await.unwrap();
    client
        .update(&direct, &render_slack_closed(&content(2), "Approved by Ann Example, 14:02 UTC", "U0ANN").unwrap())
        .await
        .unwrap();

    let messages = fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].blocks, message.blocks, "Slack took the blocks as rendered");
    for m in &messages {
        let now = m.current_blocks().as_array().unwrap();
        assert!(now.iter().all(|b| b["type"] != "actions"), "a decided message still has buttons: {now:?}");
        assert_eq!(now.last().unwrap()["text"]["text"], "*Approved by Ann Example, 14:02 UTC*");
    }
    assert_eq!(fake.wire.calls(), counts(&[("chat.postMessage", 2), ("chat.update", 2)]));
}

#[tokio::test]
async fn slack_s_refusals_are_refused_for_good_naming_slack_s_error() {
    let fake = SlackFake::start().await;
    let client = SlackClient::new(slack::TOKEN, &fake.api_url()).unwrap();
    let refused = |result: Result<SlackPosted, ChannelError>| match result {
        Err(ChannelError::Refused(reason)) => reason,
        other => panic!("not refused: {other:?}"),
    };
    let to = |channel: &str| render_slack(&content(1), channel).unwrap();
    assert_eq!(refused(client.post(&to("C0UNKNOWN")).await), "chat.postMessage: channel_not_found");
    assert_eq!(refused(client.post(&to(slack::NOT_JOINED)).await), "chat.postMessage: not_in_channel");
    assert_eq!(refused(client.post(&to(slack::ARCHIVED)).await), "chat.postMessage: is_archived");
    let wrong = SlackClient::new("xoxb-wrong", &fake.api_url()).unwrap();
    assert_eq!(refused(wrong.post(&to(slack::APPROVALS)).await), "chat.postMessage: invalid_auth");

    // What the renderer would never send, sent raw: the fake holds Slack's limits.
    let mut over = to(slack::APPROVALS);
    over.blocks = json!((0..51)
        .map(|i| json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{i}")}}))
        .collect::<Vec<_>>());
    assert_eq!(refused(client.post(&over).await), "chat.postMessage: invalid_blocks");
    let mut long_button = to(slack::APPROVALS);
    long_button.blocks[7]["elements"][0]["text"]["text"] = json!("B".repeat(76));
    assert_eq!(refused(client.post(&long_button).await), "chat.postMessage: invalid_blocks");
    let mut wordy = to(slack::APPROVALS);
    wordy.blocks = json!((0..5)
        .map(|_| json!({"type": "section", "text": {"type": "mrkdwn", "text": "w".repeat(2_900)}}))
        .collect::<Vec<_>>());
    assert_eq!(refused(client.post(&wordy).await), "chat.postMessage: msg_blocks_too_long");
    let empty = SlackMessage { channel: slack::APPROVALS.into(), text: String::new(), blocks: serde_json::Value::Null };
    assert_eq!(refused(client.post(&empty).await), "chat.postMessage: no_text");

    let posted = client.post(&to(slack::APPROVALS)).await.unwrap();
    let elsewhere = SlackPosted { channel: "D0BOB".into(), ts: posted.ts.clone() };
    let result = client.update(&elsewhere, &to("D0BOB")).await;
    assert_eq!(result, Err(ChannelError::Refused("chat.update: message_not_found".into())));
    assert_eq!(fake.messages().len(), 1, "nothing refused was kept");
}

#[tokio::test]
async fn every_message_the_renderer_allows_slack_takes() {
    let mut big = content(30);
    big.title = "T".repeat(200);
    big.prompt = Some(format!("{}\n\n{}", "word ".repeat(1_500), "x".repeat(7_000)));
    big.details = (0..30).map(|i| (format!("label {i}"), "v".repeat(2_500))).collect();
    for message in [render_slack(&big, slack::APPROVALS).unwrap(), render_slack(&content(0), slack::APPROVALS).unwrap()]
    {
        assert_eq!(slack::block_errors(&message.blocks), Vec::<String>::new());
    }
    assert_eq!(
        slack::block_errors(&render_slack_closed(&big, "Expired, 14:02 UTC", "C").unwrap().blocks),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn slack_faults_map_to_retry_or_unconfirmed_and_a_lost_reply_was_posted() {
    let fake = SlackFake::start().await;
    let client = SlackClient::new(slack::TOKEN, &fake.api_url()).unwrap();
    let message = render_slack(&content(2), slack::APPROVALS).unwrap();

    fake.wire.script(Fault::RateLimited { retry_after: 7 }, 1);
    let error = client.post(&message).await.unwrap_err();
    assert_eq!(
        error,
        ChannelError::Retry { reason: "chat.postMessage: HTTP 429".into(), retry_after_millis: Some(7_000) }
    );
    fake.wire.script(Fault::ServerError, 1);
    assert!(matches!(client.post(&message).await, Err(ChannelError::Retry { retry_after_millis: None, .. })));
    assert!(fake.messages().is_empty(), "a throttled or failed call posted nothing");

    fake.wire.script(Fault::LostReply, 1);
    let error = client.post(&message).await.unwrap_err();
    assert!(matches!(error, ChannelError::Unconfirmed(ref r) if r.starts_with("chat.postMessage: ")), "{error:?}");
    assert_eq!(fake.messages().len(), 1, "the lost reply's message was posted: sending again would be a second");

    let posted = client.post(&message).await.unwrap();
    fake.wire.script(Fault::LostReply, 1);
    let closed = render_slack_closed(&content(2), "Expired, 14:02 UTC", slack::APPROVALS).unwrap();
    assert!(matches!(client.update(&posted, &closed).await, Err(ChannelError::Unconfirmed(_))));
    client.update(&posted, &closed).await.expect("an update is safe to repeat");
    assert_eq!(fake.messages()[1].updates.len(), 2);
    assert_eq!(fake.wire.calls(), counts(&[("chat.postMessage", 4), ("chat.update", 2)]));

    // Nothing listening: the request never left.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = SlackClient::new(slack::TOKEN, &format!("http://127.0.0.1:{port}/api/")).unwrap();
    assert!(matches!(nowhere.post(&message).await, Err(ChannelError::Retry { .. })));
}

#[tokio::test]
async fn a_teams_card_is_taken_by_its_webhook_and_refusals_and_faults_map_as_the_port_says() {
    let fake = TeamsFake::start(&["ops", "finance"]).await;
    let client = TeamsClient::new(fake.webhooks()).unwrap();
    let card = render_teams(&content(2)).unwrap();
    assert!(client.has_channel("ops") && !client.has_channel("sales"));
    client.post("ops", &card).await.unwrap();
    assert_eq!(fake.cards("ops"), [card.payload["attachments"][0]["content"].clone()]);
    assert!(fake.cards("finance").is_empty());

    let error = client.post("sales", &card).await.unwrap_err();
    assert_eq!(error, ChannelError::Refused("no Teams webhook is configured under \"sales\"".into()));

    let refused = |result: Result<(), ChannelError>| match result {
        Err(ChannelError::Refused(reason)) => reason,
        other => panic!("not refused: {other:?}"),
    };
    let mut forged = fake.webhooks();
    forged.insert("ops".into(), fake.url("ops").replace("sig=sig-", "sig=forged-"));
    let forged = TeamsClient::new(forged).unwrap();
    assert!(refused(forged.post("ops", &card).await).starts_with("the Teams webhook \"ops\": HTTP 404"));
    let mut submit = card.clone();
    submit.payload["attachments"][0]["content"]["actions"][0]["type"] = json!("Action.Submit");
    assert!(refused(client.post("ops", &submit).await).contains("HTTP 400"));
    let mut huge = card.clone();
    huge.payload["attachments"][0]["content"]["body"][0]["text"] = json!("x".repeat(30_000));
    assert!(refused(client.post("ops", &huge).await).contains("HTTP 413"));
    let two = TeamsCard {
        payload: json!({"type": "message", "attachments": [card.payload["attachments"][0], card.payload["attachments"][0]]}),
    };
    assert!(refused(client.post("ops", &two).await).contains("2 attachments"));

    fake.wire.script(Fault::RateLimited { retry_after: 3 }, 1);
    assert!(matches!(
        client.post("ops", &card).await,
        Err(ChannelError::Retry { retry_after_millis: Some(3_000), .. })
    ));
    fake.wire.script(Fault::ServerError, 1);
    assert!(matches!(client.post("ops", &card).await, Err(ChannelError::Retry { retry_after_millis: None, .. })));
    assert_eq!(fake.cards("ops").len(), 1);
    fake.wire.script(Fault::LostReply, 1);
    assert!(matches!(client.post("finance", &card).await, Err(ChannelError::Unconfirmed(_))));
    assert_eq!(fake.cards("finance").len(), 1, "the lost reply's card was posted");
    assert_eq!(fake.wire.calls(), counts(&[("finance", 1), ("ops", 6), ("unknown", 1)]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    /// Whatever the form says, the renderers either refuse it by name or produce what the fakes (holding the
    /// providers' limits) take.
    #[test]
    fn whatever_the_form_says_slack_and_teams_take_it_or_it_is_refused_by_name(
        title in "(?s)\\PC{1,200}",
        prompt in proptest::option::of("(?s)(\\PC|[\n*_\\[\\]()<>&]|https://x\\.example){0,4000}"),
        details in proptest::collection::vec(("\\PC{1,200}", "(?s)\\PC{0,2500}"), 0..24),
        buttons in 0usize..30,
        label in "\\PC{1,90}",
    ) {
        let mut c = content(buttons);
        c.title = title;
        c.prompt = prompt;
        c.details = details;
        if let Some(first) = c.buttons.first_mut() {
            first.label = label;
        }
        match render_slack(&c, slack::APPROVALS) {
            Ok(message) => {
                assert_eq!(slack::block_errors(&message.blocks), Vec::<String>::new());
                assert!(!slack::too_long(&message.blocks), "over Slack's total");
                assert!(message.text.chars().count() <= 40_000);
            }
            Err(error) => {
                let error = error.to_string();
                assert!(error.contains("; Slack takes at most "), "{error}");
            }
        }
        match render_teams(&c) {
            Ok(card) => {
                assert_eq!(intervention_tests::fakes::teams::check(&card.payload), Ok(()));
                assert!(card.payload.to_string().len() <= intervention_tests::fakes::teams::MAX_BYTES);
            }
            Err(error) => assert!(error.to_string().contains("; Teams takes at most 28672"), "{error}"),
        }
    }
}

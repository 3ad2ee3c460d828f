//! Reaching the reviewer, end to end on both stores: the messages recorded with the intervention are sent
//! by the publisher through the real Slack and Teams clients (against the strict fakes) and an email
//! mailer, once each; a reminder reaches only the reviewers who have not answered; a decided request's
//! Slack messages are edited to say so; a provider's fault never touches the decision, and every message
//! ends sent or parked.

use std::collections::BTreeSet;
use std::sync::Arc;

use human_intervention::channels::read::email_part;
use human_intervention::channels::slack_client::SlackClient;
use human_intervention::channels::teams_client::TeamsClient;
use human_intervention::domain::id::InterventionId;
use human_intervention::domain::message::MESSAGE_CLAIM_MILLIS;
use human_intervention::domain::model::InterventionState;
use human_intervention::domain::time::Clock;
use human_intervention::memory::{Delivered, Mailbox};
use human_intervention::ports::store::ReminderOutcome;
use human_intervention::service::{close_expired, publish_outbox, send_messages, Channels, Outlets, Sending};
use intervention_tests::fakes::slack::{SlackFake, APPROVALS, TOKEN};
use intervention_tests::fakes::teams::TeamsFake;
use intervention_tests::fakes::Fault;
use intervention_tests::suite::{accepted, Bench};
use intervention_tests::{design_example, on_both_stores, receipts};
use serde_json::{json, Value};

on_both_stores!(
    three_reviewers_get_only_their_own_links_a_reminder_only_if_unanswered_and_slack_reads_decided,
    every_provider_fault_leaves_the_decision_alone_and_every_message_ends_sent_or_parked,
);

/// The verified sender of the reviewers' emails.
const SENDER: &str = "Approvals <approvals@example.com>";

/// A bench with the reviewers' channels: an email mailbox, Slack and Teams through their real clients.
struct Reach {
    b: Bench,
    slack: SlackFake,
    teams: TeamsFake,
    mailbox: Arc<Mailbox>,
    channels: Channels,
}

impl Reach {
    async fn new(b: Bench) -> Self {
        let slack = SlackFake::start().await;
        let teams = TeamsFake::start(&["ops"]).await;
        let mailbox = Arc::new(Mailbox::new(SENDER, None));
        let channels = Channels {
            email: Some((SENDER.into(), mailbox.clone())),
            slack: Some(Arc::new(SlackClient::new(TOKEN, &slack.api_url()).expect("a client"))),
            teams: Some(Arc::new(TeamsClient::new(teams.webhooks()).expect("a client"))),
        };
        Self { b, slack, teams, mailbox, channels }
    }

    /// One publisher pass at the bench's time: the messages due, the continuations, the ended Slack
    /// messages.
    async fn pass(&self) -> Sending {
        let now = self.b.clock.now();
        let messengers = self.channels.messengers();
        let store = self.b.store.as_ref();
        let sending = send_messages(store, messengers, now, now).await.expect("sent");
        let outlets =
            Outlets { queue: &self.b.queue, tasks: Some(self.b.tasks.as_ref()), receipts: receipts(), messengers };
        publish_outbox(store, outlets, now, now).await.expect("published");
        close_expired(store, messengers, now, now).await.expect("closed");
        sending
    }

    /// The emails sent, as (recipients, every link in the text and HTML parts).
    fn emails(&self) -> Vec<(Vec<String>, BTreeSet<String>)> {
        self.mailbox
            .delivered()
            .into_iter()
            .filter_map(|d| match d {
                Delivered::Email { email, .. } => {
                    let text = email_part(&email.raw, "text/plain").expect("a text part");
                    let html = email_part(&email.raw, "text/html").expect("an HTML part");
                    Some((email.to, links_in(&format!("{text}\n{html}"))))
                }
                _ => None,
            })
            .collect()
    }

    /// The reviewer index of each link, as the link keys verify it (every one must verify).
    fn reviewers_of(&self, links: &BTreeSet<String>, id: InterventionId) -> BTreeSet<Option<u8>> {
        links
            .iter()
            .map(|link| {
                let token = link.rsplit("/i/").next().unwrap().split('?').next().unwrap();
                let verified = self.b.keys.verify(token).unwrap_or_else(|| panic!("{link} verifies"));
                assert_eq!(verified.intervention_id, id, "{link}");
                verified.reviewer
            })
            .collect()
    }
}

/// Every link to a page of this product in `text`.
fn links_in(text: &str) -> BTreeSet<String> {
    let mut links = BTreeSet::new();
    for (at, _) in text.match_indices("https://links.example.com/i/") {
        let link: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '_' | '?' | '=' | '%'))
            .collect();
        links.insert(link.trim_end_matches('.').to_owned());
    }
    links
}

/// Every `url` in Slack's blocks.
fn slack_links(blocks: &Value) -> BTreeSet<String> {
    let mut links = BTreeSet::new();
    let mut stack = vec![blocks];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(url)) = map.get("url") {
                    links.insert(url.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    links
}

fn has_buttons(blocks: &Value) -> bool {
    blocks.as_array().into_iter().flatten().any(|b| b["type"] == "actions")
}

/// Ann, Bob and Cy vote (two approvals decide); each is reached by email, Ann also on the Slack channel;
/// all three are reminded at half the hour.
fn three_by_email_and_one_slack_channel() -> Value {
    let mut input = design_example("2026-11-26T10:00:00Z");
    input.as_object_mut().unwrap().remove("maxUrlUses");
    input["reviewers"] = json!([
        {"id": "ann", "name": "Ann Example", "notify": {"email": ["ann@example.com"], "slack": APPROVALS}},
        {"id": "bob", "name": "Bob Example", "notify": {"email": ["bob@example.com"]}},
        {"id": "cy", "name": "Cy Example", "notify": {"email": ["cy@example.com", "cy.backup@example.com"]}}
    ]);
    input["quorum"] = json!({"approvals": 2, "field": "decision", "approve": "approve", "reject": "reject"});
    input["remind"] = json!({"after": 0.5, "to": ["ann", "bob", "cy"], "ruleSetId": "refund-remind"});
    input
}

async fn three_reviewers_get_only_their_own_links_a_reminder_only_if_unanswered_and_slack_reads_decided(b: Bench) {
    let r = Reach::new(b).await;
    let created = r.b.created(&three_by_email_and_one_slack_channel()).await;
    let id = created.id;
    assert_eq!(r.pass().await, Sending { sent: 4, parked: 0, retrying: 0 }, "{}", r.b.name);

    // Each reviewer: exactly one email, holding only their own links.
    let emails = r.emails();
    assert_eq!(emails.len(), 3, "{}", r.b.name);
    let by_reviewer: Vec<(Vec<String>, BTreeSet<Option<u8>>)> =
        emails.iter().map(|(to, links)| (to.clone(), r.reviewers_of(links, id))).collect();
    assert_eq!(
        by_reviewer,
        [
            (vec!["ann@example.com".to_owned()], BTreeSet::from([Some(0)])),
            (vec!["bob@example.com".to_owned()], BTreeSet::from([Some(1)])),
            (vec!["cy@example.com".to_owned(), "cy.backup@example.com".to_owned()], BTreeSet::from([Some(2)])),
        ],
        "{}",
        r.b.name
    );
    assert!(emails.iter().all(|(_, links)| links.len() >= 2), "{}: the form and a button per option", r.b.name);
    let slack = r.slack.messages();
    assert_eq!(slack.len(), 1, "{}", r.b.name);
    assert_eq!(r.reviewers_of(&slack_links(&slack[0].blocks), id), BTreeSet::from([Some(0)]), "{}", r.b.name);
    assert!(has_buttons(&slack[0].blocks), "{}: a pending request has buttons", r.b.name);
    // A second pass sends nothing again.
    assert_eq!(r.pass().await, Sending::default(), "{}", r.b.name);

    // Bob answers; at half the hour the reminder reaches Ann (email and Slack) and Cy only.
    assert!(accepted(&r.b.post(&created.tokens["bob"], "decision=approve&_submissionId=bob-1").await));
    r.b.clock.advance(31 * 60_000);
    assert_eq!(r.b.service.fire_reminder(&id).await.unwrap(), ReminderOutcome::Queued, "{}", r.b.name);
    assert_eq!(r.pass().await, Sending { sent: 3, parked: 0, retrying: 0 }, "{}", r.b.name);
    let reminded: Vec<Vec<String>> = r.emails()[3..].iter().map(|(to, _)| to.clone()).collect();
    assert_eq!(
        reminded,
        [vec!["ann@example.com".to_owned()], vec!["cy@example.com".to_owned(), "cy.backup@example.com".to_owned()]],
        "{}",
        r.b.name
    );
    assert_eq!(r.slack.messages().len(), 2, "{}: the reminder on Slack too", r.b.name);

    // Cy's approval decides: every Slack message now reads as decided, without buttons.
    r.b.clock.advance(60_000);
    assert!(accepted(&r.b.post(&created.tokens["cy"], "decision=approve&_submissionId=cy-1").await));
    r.pass().await;
    for posted in r.slack.messages() {
        let blocks = posted.current_blocks();
        assert!(!has_buttons(blocks), "{}: {blocks}", r.b.name);
        assert!(blocks.to_string().contains("Approved by Cy Example"), "{}: {blocks}", r.b.name);
        assert_eq!(posted.updates.len(), 1, "{}: edited once", r.b.name);
    }
    r.pass().await;
    assert_eq!(r.slack.wire.calls().get("chat.update"), Some(&2), "{}: never edited again", r.b.name);

    // The record lists every message, sent, with the provider's ids and no link.
    let record = serde_json::to_value(r.b.service.record(&id).await.unwrap().unwrap()).unwrap();
    let messages = record["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 7, "{}", r.b.name);
    assert!(messages.iter().all(|m| m["state"] == "sent"), "{}: {messages:?}", r.b.name);
    let slack_record: Vec<&Value> = messages.iter().filter(|m| m["channel"] == "slack").collect();
    assert!(slack_record.iter().all(|m| m["providerId"].is_string() && m["closedAt"].is_string()), "{slack_record:?}");
    assert!(!record.to_string().contains("/i/"), "{}: no link in the record", r.b.name);
}

async fn every_provider_fault_leaves_the_decision_alone_and_every_message_ends_sent_or_parked(b: Bench) {
    let r = Reach::new(b).await;
    let mut input = three_by_email_and_one_slack_channel();
    input["reviewers"][1]["notify"] = json!({"teams": "ops", "slack": APPROVALS});
    input["reviewers"][2]["notify"] = json!({"slack": "C0UNKNOWN0"});
    input.as_object_mut().unwrap().remove("remind");
    // In send order (by message id): Ann's Slack post is throttled, Bob's Teams card meets a 5xx, Bob's
    // Slack post is taken but its reply is lost, Cy's (to a channel that does not exist) meets a 5xx.
    r.slack.wire.script(Fault::RateLimited { retry_after: 30 }, 1);
    r.slack.wire.script(Fault::LostReply, 1);
    r.slack.wire.script(Fault::ServerError, 1);
    r.teams.wire.script(Fault::ServerError, 1);
    let created = r.b.created(&input).await;
    let id = created.id;
    let first = r.pass().await;
    assert_eq!(first, Sending { sent: 1, parked: 0, retrying: 4 }, "{}: only the email went", r.b.name);

    // Each is tried again at its time, until every message is sent or parked.
    for _ in 0..4 {
        r.b.clock.advance(2 * 60_000);
        r.pass().await;
    }
    let messages = r.b.store.messages(&id).await.unwrap();
    let sent = messages.iter().filter(|m| m.sent.is_some()).count();
    let parked: Vec<_> = messages.iter().filter_map(|m| m.parked.as_ref()).collect();
    assert_eq!(messages.len(), sent + parked.len(), "{}: every message sent or parked: {messages:?}", r.b.name);
    assert_eq!((sent, parked.len()), (4, 1), "{}: {messages:?}", r.b.name);
    assert!(parked[0].reason.contains("channel_not_found"), "{}: {parked:?}", r.b.name);
    // Slack has Ann's post, and Bob's twice: the lost reply's post and the retry's (the one recorded).
    let posts = r.slack.messages();
    assert_eq!(posts.len(), 3, "{}: one duplicate, from the lost reply", r.b.name);
    assert_eq!(r.teams.cards("ops").len(), 1, "{}", r.b.name);
    assert_eq!(r.slack.wire.calls().get("chat.postMessage"), Some(&6), "{}: 2 + 2 + 2 tries", r.b.name);

    // The decision while Slack fails every edit: one continuation all the same; the edits come after.
    r.slack.wire.script(Fault::ServerError, 2);
    assert!(accepted(&r.b.post(&created.tokens["ann"], "decision=approve&_submissionId=ann-1").await));
    assert!(accepted(&r.b.post(&created.tokens["bob"], "decision=approve&_submissionId=bob-1").await));
    r.pass().await;
    assert_eq!(r.b.queue.messages().len(), 1, "{}: one continuation, whatever the providers do", r.b.name);
    assert_eq!(r.slack.wire.calls().get("chat.update"), Some(&2), "{}: both edits failed", r.b.name);
    let decided = r.b.store.get(&id).await.unwrap().unwrap();
    assert_eq!(decided.state_at(r.b.clock.now()), InterventionState::Completed, "{}", r.b.name);
    r.b.clock.advance(2 * 60_000);
    r.pass().await;
    let edited: Vec<bool> = r.slack.messages().iter().map(|p| has_buttons(p.current_blocks())).collect();
    // The lost reply's post (the first) was never recorded: it keeps its buttons; its links answer as decided.
    assert_eq!(edited, [true, false, false], "{}", r.b.name);
}

/// A sender that dies between the provider's answer and recording it: the message stays claimed, no other
/// sender touches it while the claim holds, and the next sweep after it lapses sends it again: the one
/// duplicate, counted.
#[tokio::test]
async fn a_sender_killed_between_send_and_record_is_the_one_duplicate_after_its_claim_lapses() {
    let fixture = intervention_tests::aws::AwsFixture::new(false).await;
    let faulty = Arc::new(intervention_tests::aws::FaultyStore::new(fixture.store.clone()));
    let r = Reach::new(Bench::on("dynamodb", faulty.clone())).await;
    let mut input = three_by_email_and_one_slack_channel();
    input.as_object_mut().unwrap().remove("remind");
    let created = r.b.created(&input).await;
    faulty.lose_settlements(1);
    let now = r.b.clock.now();
    let died = send_messages(r.b.store.as_ref(), r.channels.messengers(), now, now).await;
    assert!(died.is_err(), "the first sender died recording its first message: {died:?}");
    assert_eq!(r.emails().len(), 1, "Ann's email went out before the sender died");
    // Another sender within the claim's hold sends the others, not the dead sender's.
    r.b.clock.advance(MESSAGE_CLAIM_MILLIS - 1_000);
    assert_eq!(r.pass().await, Sending { sent: 3, parked: 0, retrying: 0 });
    assert_eq!(r.emails().len(), 3);
    // After the hold the claim is a dead sender's: the message goes again, once, and is recorded.
    r.b.clock.advance(2_000);
    assert_eq!(r.pass().await, Sending { sent: 1, parked: 0, retrying: 0 });
    let emails = r.emails();
    let to_ann = emails.iter().filter(|(to, _)| to == &["ann@example.com"]).count();
    assert_eq!((emails.len(), to_ann), (4, 2), "one duplicate: Ann's, sent twice");
    let messages = r.b.store.messages(&created.id).await.unwrap();
    assert!(messages.iter().all(|m| m.sent.is_some()), "{messages:?}");
    r.b.clock.advance(MESSAGE_CLAIM_MILLIS * 2);
    assert_eq!(r.pass().await, Sending::default(), "nothing more, ever");
}

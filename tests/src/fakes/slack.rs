//! A strict fake of Slack's Web API (`chat.postMessage`, `chat.update`): the bot token checked, a fixed set
//! of channels and users, Block Kit's limits enforced, `ok: false` errors named as Slack names them, an
//! update only of a message posted in the same channel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{serve, Call, Fault, Handler, Reply, Wire};

/// The token the fake accepts.
pub const TOKEN: &str = "xoxb-fake-0000-token";
/// A channel the bot is in.
pub const APPROVALS: &str = "C0APPROVALS";
/// A channel that exists but the bot is not in (`not_in_channel`).
pub const NOT_JOINED: &str = "C0NOTJOINED";
/// An archived channel (`is_archived`).
pub const ARCHIVED: &str = "C0ARCHIVED";
/// Characters of text in all blocks from which Slack answers `msg_blocks_too_long` (undocumented; measured
/// at about 13,200 in slackapi/bolt-js#2509).
pub const MAX_BLOCKS_TEXT: usize = 13_000;
/// Users the bot can message directly (a DM's channel is `D` and the user id's rest).
pub const USERS: [&str; 3] = ["U0ANN", "U0BOB", "U0CY"];

/// A message as posted, with every update it received.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The channel Slack answered with.
    pub channel: String,
    /// Its ts.
    pub ts: String,
    /// The text and blocks posted.
    pub text: String,
    /// The blocks posted.
    pub blocks: Value,
    /// Each `chat.update`'s (text, blocks), in order.
    pub updates: Vec<(String, Value)>,
}

impl Posted {
    /// The blocks as they read now (after the last update).
    pub fn current_blocks(&self) -> &Value {
        self.updates.last().map_or(&self.blocks, |(_, b)| b)
    }
}

#[derive(Default)]
struct State {
    messages: Vec<Posted>,
    next_ts: u64,
}

struct Slack {
    state: Mutex<State>,
}

/// The running fake; stops when dropped.
pub struct SlackFake {
    /// Faults and call counts (by method).
    pub wire: Arc<Wire>,
    slack: Arc<Slack>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SlackFake {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let wire = Arc::new(Wire::default());
        let slack = Arc::new(Slack { state: Mutex::new(State { messages: Vec::new(), next_ts: 1 }) });
        let (addr, task) = serve(slack.clone(), wire.clone()).await;
        Self { wire, slack, addr, task }
    }

    /// The API's base URL (`SLACK_API_URL`), ending in `/`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    /// Every message posted, oldest first, with its updates.
    pub fn messages(&self) -> Vec<Posted> {
        self.slack.state.lock().expect("lock").messages.clone()
    }
}

impl Drop for SlackFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refuse(error: &str) -> Reply {
    Reply::json(200, &json!({"ok": false, "error": error}))
}

impl Handler for Slack {
    fn name(&self, call: &Call) -> String {
        call.path.strip_prefix("/api/").unwrap_or(&call.path).to_owned()
    }

    fn fault_reply(&self, fault: Fault) -> Reply {
        match fault {
            Fault::RateLimited { retry_after } => {
                let mut reply = Reply::json(429, &json!({"ok": false, "error": "ratelimited"}));
                reply.headers.push(("retry-after", retry_after.to_string()));
                reply
            }
            _ => Reply {
                status: 500,
                headers: vec![("content-type", "text/html".into())],
                body: b"<html>Internal Server Error</html>".to_vec(),
            },
        }
    }

    fn handle(&self, call: &Call) -> Reply {
        let method = self.name(call);
        if method != "chat.postMessage" && method != "chat.update" {
            return refuse("unknown_method");
        }
        match call.authorization.as_deref() {
            None => return refuse("not_authed"),
            Some(value) if value != format!("Bearer {TOKEN}") => return refuse("invalid_auth"),
            Some(_) => {}
        }
        if !call.content_type.as_deref().is_some_and(|t| t.starts_with("application/json")) {
            return refuse("invalid_arguments");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&call.body) else { return refuse("invalid_json") };
        let channel = body["channel"].as_str().unwrap_or("");
        let channel = match channel {
            APPROVALS => APPROVALS.to_owned(),
            NOT_JOINED => return refuse("not_in_channel"),
            ARCHIVED => return refuse("is_archived"),
            user if USERS.contains(&user) => format!("D{}", &user[1..]),
            dm if USERS.iter().any(|u| dm == format!("D{}", &u[1..])) => dm.to_owned(),
            _ => return refuse("channel_not_found"),
        };
        let text = body["text"].as_str().unwrap_or("").to_owned();
        let blocks = body.get("blocks").cloned().unwrap_or(Value::Null);
        if text.is_empty() && blocks.is_null() {
            return refuse("no_text");
        }
        if text.chars().count() > 40_000 {
            return refuse("msg_too_long");
        }
        if !blocks.is_null() {
            let errors = block_errors(&blocks);
            if too_long(&blocks) {
                return refuse("msg_blocks_too_long");
            }
            if !errors.is_empty() {
                return Reply::json(
                    200,
                    &json!({"ok": false, "error": "invalid_blocks", "errors": errors,
                    "response_metadata": {"messages": errors.iter().map(|e| format!("[ERROR] {e}")).collect::<Vec<_>>()}}),
                );
            }
        }
        let mut state = self.state.lock().expect("lock");
        if method == "chat.postMessage" {
            let ts = format!("1765000000.{:06}", state.next_ts);
            state.next_ts += 1;
            state.messages.push(Posted {
                channel: channel.clone(),
                ts: ts.clone(),
                text: text.clone(),
                blocks: blocks.clone(),
                updates: Vec::new(),
            });
            return Reply::json(
                200,
                &json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": text, "blocks": blocks}}),
            );
        }
        let ts = body["ts"].as_str().unwrap_or("");
        let Some(posted) = state.messages.iter_mut().find(|m| m.ts == ts && m.channel == channel) else {
            return refuse("message_not_found");
        };
        posted.updates.push((text.clone(), blocks));
        Reply::json(200, &json!({"ok": true, "channel": channel, "ts": ts, "text": text}))
    }
}

/// Whether the text of all `blocks` together is over [`MAX_BLOCKS_TEXT`] characters.
pub fn too_long(blocks: &Value) -> bool {
    fn text(value: &Value) -> usize {
        match value {
            Value::String(_) => 0,
            Value::Array(items) => items.iter().map(text).sum(),
            Value::Object(map) => {
                map.get("text").and_then(Value::as_str).map_or(0, |t| t.chars().count())
                    + map
                        .iter()
                        .filter(|(k, _)| k.as_str() != "text" || !map[*k].is_string())
                        .map(|(_, v)| text(v))
                        .sum::<usize>()
            }
            _ => 0,
        }
    }
    text(blocks) > MAX_BLOCKS_TEXT
}

/// What Slack would refuse in `blocks` (each as `<what> [json-pointer:<where>]`); empty when it takes them.
pub fn block_errors(blocks: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(blocks) = blocks.as_array() else { return vec!["must be an array [json-pointer:/blocks]".into()] };
    let mut error = |what: String, at: String| errors.push(format!("{what} [json-pointer:/blocks{at}]"));
    if blocks.len() > 50 {
        error("must be less than 51 items".into(), String::new());
    }
    let mut action_ids: BTreeMap<String, usize> = BTreeMap::new();
    let text_of = |v: &Value| v["text"].as_str().map(|t| t.chars().count());
    for (i, block) in blocks.iter().enumerate() {
        let at = |rest: &str| format!("/{i}{rest}");
        match block["type"].as_str() {
            Some("header") => {
                if block["text"]["type"] != "plain_text" {
                    error("must be a plain_text object".into(), at("/text"));
                }
                match text_of(&block["text"]) {
                    Some(n) if n <= 150 => {}
                    _ => error("must be at most 150 characters".into(), at("/text/text")),
                }
            }
            Some("section") => {
                if block.get("text").is_none() && block.get("fields").is_none() {
                    error("must have text or fields".into(), at(""));
                }
                if let Some(text) = block.get("text") {
                    match text_of(text) {
                        Some(n) if (1..=3_000).contains(&n) => {}
                        _ => error("must be 1 to 3000 characters".into(), at("/text/text")),
                    }
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().cloned().unwrap_or_default();
                    if fields.is_empty() || fields.len() > 10 {
                        error("must be 1 to 10 items".into(), at("/fields"));
                    }
                    for (j, field) in fields.iter().enumerate() {
                        if !text_of(field).is_some_and(|n| (1..=2_000).contains(&n)) {
                            error("must be 1 to 2000 characters".into(), at(&format!("/fields/{j}/text")));
                        }
                    }
                }
            }
            Some("context") => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 10 {
                    error("must be 1 to 10 items".into(), at("/elements"));
                }
            }
            Some("actions") => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 25 {
                    error("must be 1 to 25 items".into(), at("/elements"));
                }
                for (j, element) in elements.iter().enumerate() {
                    let at = |rest: &str| at(&format!("/elements/{j}{rest}"));
                    if element["type"] != "button" {
                        error("must be a button".into(), at("/type"));
                        continue;
                    }
                    if element["text"]["type"] != "plain_text" {
                        error("must be a plain_text object".into(), at("/text"));
                    }
                    if !text_of(&element["text"]).is_some_and(|n| (1..=75).contains(&n)) {
                        error("must be 1 to 75 characters".into(), at("/text/text"));
                    }
                    match element["url"].as_str() {
                        Some(url) if url.chars().count() <= 3_000 && url.starts_with("http") => {}
                        _ => error("must be a url of at most 3000 characters".into(), at("/url")),
                    }
                    if let Some(style) = element.get("style") {
                        if style != "primary" && style != "danger" {
                            error("must be primary or danger".into(), at("/style"));
                        }
                    }
                    let id = element["action_id"].as_str().unwrap_or("").to_owned();
                    if id.is_empty() || id.len() > 255 {
                        error("must be 1 to 255 characters".into(), at("/action_id"));
                    }
                    if action_ids.insert(id, i).is_some() {
                        error("must be unique in the message".into(), at("/action_id"));
                    }
                }
            }
            Some("divider") => {}
            _ => error("must be a known block type".into(), at("/type")),
        }
    }
    errors
}

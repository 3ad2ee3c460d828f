//! A strict fake of Teams channels' Workflows webhooks: only the known webhook paths with their signature,
//! a body that is a message with exactly one Adaptive Card of at most 28 KB whose actions are all
//! `Action.OpenUrl`, answered 202 with no body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{serve, Call, Fault, Handler, Reply, Wire};

/// The largest body a webhook takes.
pub const MAX_BYTES: usize = 28 * 1024;

struct Teams {
    /// Webhook name → its signature (the `sig` query parameter).
    hooks: BTreeMap<String, String>,
    /// The cards each webhook took, by name.
    posted: Mutex<BTreeMap<String, Vec<Value>>>,
}

/// The running fake; stops when dropped.
pub struct TeamsFake {
    /// Faults and call counts (by webhook name; `unknown` for other paths).
    pub wire: Arc<Wire>,
    teams: Arc<Teams>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TeamsFake {
    /// Starts the fake with one webhook per name.
    pub async fn start(names: &[&str]) -> Self {
        let hooks = names.iter().map(|n| ((*n).to_owned(), format!("sig-{n}-{}", fastrand::u64(..)))).collect();
        let teams = Arc::new(Teams { hooks, posted: Mutex::new(BTreeMap::new()) });
        let wire = Arc::new(Wire::default());
        let (addr, task) = serve(teams.clone(), wire.clone()).await;
        Self { wire, teams, addr, task }
    }

    /// The webhook URL of `name` (what `TEAMS_WEBHOOKS` holds), signature included.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/workflows/{name}/triggers/manual/paths/invoke?sig={}", self.addr, self.teams.hooks[name])
    }

    /// `TEAMS_WEBHOOKS` for every webhook of the fake.
    pub fn webhooks(&self) -> BTreeMap<String, String> {
        self.teams.hooks.keys().map(|n| (n.clone(), self.url(n))).collect()
    }

    /// The cards (the `content` of each body's attachment) webhook `name` took, oldest first.
    pub fn cards(&self, name: &str) -> Vec<Value> {
        self.teams.posted.lock().expect("lock").get(name).cloned().unwrap_or_default()
    }
}

impl Drop for TeamsFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"error": {"code": code, "message": message}}))
}

impl Teams {
    /// The webhook a call is for, if its path and signature are one's.
    fn hook(&self, call: &Call) -> Option<&str> {
        let name = call.path.strip_prefix("/workflows/")?.strip_suffix("/triggers/manual/paths/invoke")?;
        let sig = call.query.split('&').find_map(|p| p.strip_prefix("sig="))?;
        self.hooks.get_key_value(name).filter(|(_, s)| s.as_str() == sig).map(|(n, _)| n.as_str())
    }
}

impl Handler for Teams {
    fn name(&self, call: &Call) -> String {
        self.hook(call).unwrap_or("unknown").to_owned()
    }

    fn fault_reply(&self, fault: Fault) -> Reply {
        match fault {
            Fault::RateLimited { retry_after } => {
                let mut reply = error(429, "TooManyRequests", "Rate limit is exceeded.");
                reply.headers.push(("retry-after", retry_after.to_string()));
                reply
            }
            _ => error(500, "InternalServerError", "The server encountered an internal error."),
        }
    }

    fn handle(&self, call: &Call) -> Reply {
        let Some(name) = self.hook(call) else {
            return error(404, "WorkflowTriggerNotFound", "The workflow or its signature is not known.");
        };
        if call.body.len() > MAX_BYTES {
            return error(
                413,
                "MessageSizeTooBig",
                &format!("The message is {} bytes; at most {MAX_BYTES}.", call.body.len()),
            );
        }
        let Ok(body) = serde_json::from_slice::<Value>(&call.body) else {
            return error(400, "InvalidRequestContent", "The request content is not valid JSON.");
        };
        if let Err(problem) = check(&body) {
            return error(400, "InvalidRequestContent", &problem);
        }
        let card = body["attachments"][0]["content"].clone();
        self.posted.lock().expect("lock").entry(name.to_owned()).or_default().push(card);
        Reply { status: 202, headers: Vec::new(), body: Vec::new() }
    }
}

/// Why a webhook would refuse `body`, if it would.
pub fn check(body: &Value) -> Result<(), String> {
    if body["type"] != "message" {
        return Err("type must be \"message\"".into());
    }
    let attachments = body["attachments"].as_array().ok_or("attachments must be an array")?;
    if attachments.len() != 1 {
        return Err(format!("{} attachments; exactly one card", attachments.len()));
    }
    if attachments[0]["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Err("the attachment is not an Adaptive Card".into());
    }
    let card = &attachments[0]["content"];
    if card["type"] != "AdaptiveCard" || !card["version"].is_string() {
        return Err("the content is not an AdaptiveCard with a version".into());
    }
    let mut actions = Vec::new();
    collect_actions(card, &mut actions);
    for action in actions {
        if action["type"] != "Action.OpenUrl" {
            return Err(format!("{} is not supported by a webhook's card; only Action.OpenUrl", action["type"]));
        }
        if !action["url"].as_str().is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
            return Err("an Action.OpenUrl without an http(s) url".into());
        }
    }
    Ok(())
}

/// Every action in the card, at any depth (the card's own and any ActionSet's).
fn collect_actions<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(actions)) = map.get("actions") {
                out.extend(actions.iter());
            }
            map.values().for_each(|v| collect_actions(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_actions(v, out)),
        _ => {}
    }
}

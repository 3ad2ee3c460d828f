//! Slack's Web API with the bot's token: `chat.postMessage` and `chat.update`, each answer classified as
//! the [`SlackApi`] port says (try again, refused for good, or unconfirmed).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::http::{check_endpoint, HttpsClient};
use crate::ports::messages::{ChannelError, SlackApi, SlackMessage, SlackPosted};

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

/// `ok: false` errors after which the same call can succeed later.
const TRANSIENT: [&str; 3] = ["ratelimited", "service_unavailable", "internal_error"];
/// `ok: false` errors after which Slack does not say whether the message was posted ("some aspect of the
/// operation succeeded before the error was raised").
const UNCERTAIN: [&str; 1] = ["fatal_error"];

/// The Web API client of one bot.
pub struct SlackClient {
    base_url: String,
    authorization: String,
    http: HttpsClient,
}

impl SlackClient {
    /// A client of the API at `base_url` (ending in `/`) with the bot token `token`.
    pub fn new(token: &str, base_url: &str) -> Result<Self, String> {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("SLACK_BOT_TOKEN must be a token (no spaces or line breaks)".into());
        }
        check_endpoint("SLACK_API_URL", base_url)?;
        let base_url = if base_url.ends_with('/') { base_url.to_owned() } else { format!("{base_url}/") };
        Ok(Self { base_url, authorization: format!("Bearer {token}"), http: HttpsClient::new() })
    }

    /// The client configured by `SLACK_BOT_TOKEN` (and `SLACK_API_URL`, default [`DEFAULT_API_URL`]);
    /// `None` when no token is set.
    pub fn from_env() -> Result<Option<Self>, String> {
        let Ok(token) = std::env::var("SLACK_BOT_TOKEN") else { return Ok(None) };
        let base = std::env::var("SLACK_API_URL").unwrap_or_else(|_| DEFAULT_API_URL.to_owned());
        Self::new(&token, &base).map(Some)
    }

    /// Calls `method` with `body`; Slack's answer when `ok`.
    async fn call(&self, method: &str, body: &Value) -> Result<Value, ChannelError> {
        let url = format!("{}{method}", self.base_url);
        let authorization = Some(self.authorization.as_str());
        let answer = self
            .http
            .post_json(&url, authorization, body.to_string().into_bytes())
            .await
            .map_err(|f| f.channel_error(method))?;
        let retry_after_millis = answer.retry_after_millis();
        if answer.status == 429 || answer.status >= 500 {
            let reason = format!("{method}: HTTP {}", answer.status);
            return Err(ChannelError::Retry { reason, retry_after_millis });
        }
        if !(200..300).contains(&answer.status) {
            return Err(ChannelError::Refused(format!("{method}: HTTP {}", answer.status)));
        }
        let Ok(reply) = serde_json::from_slice::<Value>(&answer.body) else {
            return Err(ChannelError::Unconfirmed(format!("{method}: an answer that is not JSON")));
        };
        if reply["ok"] == json!(true) {
            return Ok(reply);
        }
        let error = reply["error"].as_str().unwrap_or("no error named");
        let reason = format!("{method}: {error}");
        Err(if TRANSIENT.contains(&error) {
            ChannelError::Retry { reason, retry_after_millis }
        } else if UNCERTAIN.contains(&error) {
            ChannelError::Unconfirmed(reason)
        } else {
            ChannelError::Refused(reason)
        })
    }
}

#[async_trait]
impl SlackApi for SlackClient {
    async fn post(&self, message: &SlackMessage) -> Result<SlackPosted, ChannelError> {
        let body = json!({"channel": message.channel, "text": message.text, "blocks": message.blocks, "unfurl_links": false,
            "unfurl_media": false});
        let reply = self.call("chat.postMessage", &body).await?;
        match (reply["channel"].as_str(), reply["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok(SlackPosted { channel: channel.to_owned(), ts: ts.to_owned() }),
            // Posted, but where is not known: it cannot be updated, and posting again would be a second one.
            _ => Err(ChannelError::Unconfirmed("chat.postMessage: ok without a channel and ts".into())),
        }
    }

    async fn update(&self, posted: &SlackPosted, message: &SlackMessage) -> Result<(), ChannelError> {
        let body = json!({"channel": posted.channel, "ts": posted.ts, "text": message.text, "blocks": message.blocks});
        self.call("chat.update", &body).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_checked_by_name_and_never_echoes_a_secret() {
        assert!(SlackClient::new("xoxb-1", DEFAULT_API_URL).is_ok());
        assert!(SlackClient::new("xoxb-1", "http://127.0.0.1:9/api").is_ok());
        let error = SlackClient::new("xoxb-1", "http://slack.example/api/").err().unwrap();
        assert!(error.starts_with("SLACK_API_URL must be an https URL"), "{error}");
        let error = SlackClient::new("xoxb-1\r\nX: y", DEFAULT_API_URL).err().unwrap();
        assert!(error.starts_with("SLACK_BOT_TOKEN ") && !error.contains("xoxb"), "{error}");
    }
}

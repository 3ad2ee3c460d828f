//! Teams channels' Workflows webhooks, by name: the input names a channel, the configuration holds its URL
//! (the URL carries its own signature, so it is a secret: never logged, never in an error).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::http::{check_endpoint, HttpsClient};
use crate::ports::messages::{ChannelError, TeamsApi, TeamsCard};

/// The webhooks of the configured Teams channels.
pub struct TeamsClient {
    webhooks: BTreeMap<String, String>,
    http: HttpsClient,
}

impl TeamsClient {
    /// A client posting to these webhooks (name → URL), each checked.
    pub fn new(webhooks: BTreeMap<String, String>) -> Result<Self, String> {
        for (name, url) in &webhooks {
            check_endpoint(&format!("TEAMS_WEBHOOKS[{name:?}]"), url)?;
        }
        Ok(Self { webhooks, http: HttpsClient::new() })
    }

    /// The webhooks in `TEAMS_WEBHOOKS`, a JSON object of channel name to URL; `None` when it is not set.
    pub fn from_env() -> Result<Option<Self>, String> {
        let Ok(spec) = std::env::var("TEAMS_WEBHOOKS") else { return Ok(None) };
        Self::parse(&spec).map(Some)
    }

    /// The webhooks of a `TEAMS_WEBHOOKS` value.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let webhooks: BTreeMap<String, String> = serde_json::from_str(spec)
            .map_err(|e| format!("TEAMS_WEBHOOKS must be a JSON object of channel name to webhook URL ({e})"))?;
        if webhooks.is_empty() {
            return Err("TEAMS_WEBHOOKS names no channel".into());
        }
        Self::new(webhooks)
    }
}

#[async_trait]
impl TeamsApi for TeamsClient {
    async fn post(&self, channel: &str, card: &TeamsCard) -> Result<(), ChannelError> {
        let Some(url) = self.webhooks.get(channel) else {
            return Err(ChannelError::Refused(format!("no Teams webhook is configured under {channel:?}")));
        };
        let what = format!("the Teams webhook {channel:?}");
        let answer = self
            .http
            .post_json(url, None, card.payload.to_string().into_bytes())
            .await
            .map_err(|f| f.channel_error(&what))?;
        let excerpt: String = String::from_utf8_lossy(&answer.body).chars().take(200).collect();
        match answer.status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(ChannelError::Retry {
                reason: format!("{what}: HTTP {} {excerpt}", answer.status),
                retry_after_millis: answer.retry_after_millis(),
            }),
            status => Err(ChannelError::Refused(format!("{what}: HTTP {status} {excerpt}"))),
        }
    }

    fn has_channel(&self, channel: &str) -> bool {
        self.webhooks.contains_key(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_come_from_a_json_object_of_https_urls_named_without_their_secret() {
        let client = TeamsClient::parse(r#"{"ops": "https://prod.example/workflows/1?sig=SECRET"}"#).unwrap();
        assert!(client.has_channel("ops") && !client.has_channel("other"));
        let error = TeamsClient::parse(r#"{"ops": "http://prod.example/workflows/1?sig=SECRET"}"#).err().unwrap();
        assert!(
            error.starts_with("TEAMS_WEBHOOKS[\"ops\"] must be an https URL") && !error.contains("SECRET"),
            "{error}"
        );
        assert!(TeamsClient::parse(r#"{"local": "http://127.0.0.1:8080/hook"}"#).is_ok());
        assert!(TeamsClient::parse("[]").err().unwrap().starts_with("TEAMS_WEBHOOKS must be a JSON object"));
        assert_eq!(TeamsClient::parse("{}").err().unwrap(), "TEAMS_WEBHOOKS names no channel");
    }
}

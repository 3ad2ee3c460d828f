//! Where a reviewer (or the single link's recipients) is reached: the input's `notify`, checked. The
//! channels' secrets (sender identity, bot token, webhook URLs) are configuration, never input: the input
//! names a Slack conversation and a configured Teams channel by name only.

use serde::{Deserialize, Serialize};

use crate::domain::error::ConfigError;

/// A channel a reviewer is reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// An email through SES (the sender identity is configuration).
    Email,
    /// A Slack message from the bot (its token is configuration).
    Slack,
    /// A Teams channel's Workflows webhook (its URL is configuration, named by the input).
    Teams,
}

impl Channel {
    /// The channel's name in the input, the record and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }
}

/// Most email addresses one `notify` names: they share one message (and one link).
pub const MAX_EMAIL_ADDRESSES: usize = 10;
/// Longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest Teams channel name.
pub const MAX_TEAMS_NAME_CHARS: usize = 64;

/// The input's `notify`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    email: Option<Vec<String>>,
    slack: Option<String>,
    teams: Option<String>,
}

/// Where one link is sent: each channel at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    /// Email addresses, in one message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
    /// A Slack conversation: a channel id (`C…`, `G…`) or a user id (`U…`, `W…`) for a direct message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    /// The name of a Teams channel configured with its Workflows webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<String>,
}

impl Notify {
    /// The channels named, each with its recipients, in a fixed order (email, Slack, Teams).
    pub fn channels(&self) -> Vec<(Channel, Vec<String>)> {
        let mut channels = Vec::new();
        if !self.email.is_empty() {
            channels.push((Channel::Email, self.email.clone()));
        }
        if let Some(slack) = &self.slack {
            channels.push((Channel::Slack, vec![slack.clone()]));
        }
        if let Some(teams) = &self.teams {
            channels.push((Channel::Teams, vec![teams.clone()]));
        }
        channels
    }
}

impl NotifySpec {
    /// Checks the spec at `path` (e.g. `reviewers[2].notify`), naming the first bad setting.
    pub fn parse(self, path: &str) -> Result<Notify, ConfigError> {
        let email = self.email.unwrap_or_default();
        if email.len() > MAX_EMAIL_ADDRESSES {
            return Err(ConfigError::new(
                format!("{path}.email"),
                format!("names {} addresses; at most {MAX_EMAIL_ADDRESSES}", email.len()),
            ));
        }
        for (i, address) in email.iter().enumerate() {
            check_address(address).map_err(|message| ConfigError::new(format!("{path}.email[{i}]"), message))?;
            if email[..i].contains(address) {
                return Err(ConfigError::new(format!("{path}.email[{i}]"), format!("`{address}` is named twice")));
            }
        }
        if let Some(slack) = &self.slack {
            check_slack(slack).map_err(|message| ConfigError::new(format!("{path}.slack"), message))?;
        }
        if let Some(teams) = &self.teams {
            check_teams_name(teams).map_err(|message| ConfigError::new(format!("{path}.teams"), message))?;
        }
        if email.is_empty() && self.slack.is_none() && self.teams.is_none() {
            return Err(ConfigError::new(path, "names no channel: give email, slack or teams (or leave notify out)"));
        }
        Ok(Notify { email, slack: self.slack, teams: self.teams })
    }
}

/// An address SES takes: one mailbox, no display name, no characters a header could be split with.
fn check_address(address: &str) -> Result<(), String> {
    if address.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!("is longer than {MAX_EMAIL_CHARS} characters"));
    }
    let plain = address.bytes().all(|b| b.is_ascii_graphic()) && !address.contains(['<', '>', ',', ';', '"', '(']);
    let parsed = address.parse::<email_address::EmailAddress>();
    match parsed {
        Ok(parsed) if plain && parsed.domain().contains('.') && parsed.display_part().is_empty() => Ok(()),
        _ => Err(format!("`{}` is not an email address (one plain address, like ann@example.com)", printable(address))),
    }
}

/// A Slack conversation id: `C`, `G`, `U` or `W` and 8 to 20 of `A-Z 0-9` (Slack's ids; a name like
/// `#approvals` is refused, since `chat.update` needs the id).
fn check_slack(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let first_ok = matches!(chars.next(), Some('C' | 'G' | 'U' | 'W'));
    let rest = chars.as_str();
    if first_ok && (8..=20).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Ok(());
    }
    Err(format!(
        "`{}` is not a Slack channel or user id (C, G, U or W and 8 to 20 of A-Z 0-9, e.g. C0123456789)",
        printable(id)
    ))
}

/// A Teams channel's configured name: 1–64 of `A-Z a-z 0-9 _ -`.
fn check_teams_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= MAX_TEAMS_NAME_CHARS
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Ok(());
    }
    Err(format!(
        "`{}` is not a Teams channel name (1 to {MAX_TEAMS_NAME_CHARS} of A-Z a-z 0-9 _ -, as configured)",
        printable(name)
    ))
}

fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// The channels this deployment can send on: a channel named in an input but not configured is refused at
/// creation, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configured {
    /// An SES sender identity is configured.
    pub email: bool,
    /// A Slack bot token is configured.
    pub slack: bool,
    /// The names of the Teams channels with a webhook.
    pub teams: Vec<String>,
    /// Any Teams channel name is taken (the local server's mailbox).
    pub any_teams: bool,
}

impl Configured {
    /// What this deployment's environment configures: `EMAIL_FROM` (a sender identity), `SLACK_ENABLED`
    /// (`true`, or a bot token in `SLACK_BOT_TOKEN`), `TEAMS_CHANNELS` (comma-separated names, or the
    /// names in `TEAMS_WEBHOOKS`). The secrets themselves are read only where messages are sent.
    pub fn from_env() -> Self {
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut teams: Vec<String> = set("TEAMS_CHANNELS")
            .map(|names| names.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect())
            .unwrap_or_default();
        if let Some(webhooks) = set("TEAMS_WEBHOOKS") {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&webhooks) {
                teams.extend(map.keys().cloned());
            }
        }
        Self {
            email: set("EMAIL_FROM").is_some(),
            slack: set("SLACK_ENABLED").is_some_and(|v| v == "true") || set("SLACK_BOT_TOKEN").is_some(),
            teams,
            any_teams: false,
        }
    }

    /// Refuses, at `path`, a channel of `notify` this deployment cannot send on.
    pub fn check(&self, notify: &Notify, path: &str) -> Result<(), ConfigError> {
        if !notify.email.is_empty() && !self.email {
            return Err(ConfigError::new(
                format!("{path}.email"),
                "email is not configured in this deployment (no sender identity: EMAIL_FROM)",
            ));
        }
        if notify.slack.is_some() && !self.slack {
            return Err(ConfigError::new(
                format!("{path}.slack"),
                "Slack is not configured in this deployment (no bot token: SLACK_BOT_TOKEN)",
            ));
        }
        if let Some(name) = &notify.teams {
            if !self.any_teams && !self.teams.contains(name) {
                return Err(ConfigError::new(
                    format!("{path}.teams"),
                    format!("no Teams channel `{name}` is configured in this deployment (TEAMS_WEBHOOKS)"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> NotifySpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn each_bad_setting_is_named_by_its_path() {
        let at = |json| spec(json).parse("reviewers[1].notify").unwrap_err();
        let e = at(serde_json::json!({"email": ["ann@example.com", "x\r\nBcc: evil@example.com"]}));
        assert_eq!(e.field, "reviewers[1].notify.email[1]");
        assert!(at(serde_json::json!({"email": ["Ann <ann@example.com>"]})).message.contains("plain address"));
        assert_eq!(at(serde_json::json!({"slack": "#approvals"})).field, "reviewers[1].notify.slack");
        assert_eq!(at(serde_json::json!({"teams": "../x"})).field, "reviewers[1].notify.teams");
        assert_eq!(at(serde_json::json!({})).field, "reviewers[1].notify");
        let many: Vec<String> = (0..11).map(|i| format!("r{i}@example.com")).collect();
        assert!(at(serde_json::json!({ "email": many })).message.contains("at most 10"));
        assert!(at(serde_json::json!({"email": ["a@example.com", "a@example.com"]})).message.contains("twice"));
    }

    #[test]
    fn a_channel_not_configured_is_refused_by_name() {
        let notify = spec(serde_json::json!({"email": ["ann@example.com"], "slack": "C0123456789", "teams": "ops"}))
            .parse("notify")
            .unwrap();
        let all = Configured { email: true, slack: true, teams: vec!["ops".into()], any_teams: false };
        assert!(all.check(&notify, "notify").is_ok());
        let no_teams = Configured { teams: vec!["other".into()], ..all.clone() };
        assert!(no_teams.check(&notify, "notify").unwrap_err().message.contains("no Teams channel `ops`"));
        let no_mail = Configured { email: false, ..all.clone() };
        assert_eq!(no_mail.check(&notify, "notify").unwrap_err().field, "notify.email");
        let no_slack = Configured { slack: false, ..all };
        assert!(no_slack.check(&notify, "notify").unwrap_err().message.contains("SLACK_BOT_TOKEN"));
    }
}

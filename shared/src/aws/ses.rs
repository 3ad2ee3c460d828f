//! Email through SES v2 (`SendEmail` with the raw MIME message the channel rendered), each failure
//! classified as the [`Mailer`] port says: try again, refused for good, or unconfirmed.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::config::retry::RetryConfig;
use aws_sdk_sesv2::config::timeout::TimeoutConfig;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;

use super::lazy::LazyClient;
use crate::channels::email::sender;
use crate::ports::messages::{ChannelError, Email, Mailer};

/// How long one SendEmail may take before its answer counts as lost.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// SES's codes after which the same message can be sent later: throttling, a sending quota or rate.
const RETRY_CODES: [&str; 4] =
    ["TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException"];
/// SES's codes that refuse the message (or the sender) for good: sending again cannot help.
const REFUSED_CODES: [&str; 6] = [
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "NotFoundException",
    "AccountSuspendedException",
    "SendingPausedException",
];

/// Email on SES v2.
#[derive(Clone)]
pub struct SesMailer {
    client: LazyClient<Client>,
}

impl SesMailer {
    /// Sends through this client.
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self { client: client.into() }
    }
}

/// The sender identity in `EMAIL_FROM` (`approvals@example.com` or `Approvals <approvals@example.com>`,
/// verified in SES); `None` when it is not set.
pub fn email_from_env() -> Result<Option<String>, String> {
    let Ok(from) = std::env::var("EMAIL_FROM") else { return Ok(None) };
    sender(&from).map_err(|e| format!("EMAIL_FROM: {e}"))?;
    Ok(Some(from))
}

/// The mailer and its sender identity, when `EMAIL_FROM` is set.
pub fn mailer_from_env(config: &aws_types::SdkConfig) -> Result<Option<(SesMailer, String)>, String> {
    Ok(email_from_env()?.map(|from| (SesMailer::new(super::deferred(config, Client::new)), from)))
}

/// What a failed SendEmail means for the message.
fn send_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    error: SdkError<E, R>,
    status: Option<u16>,
) -> ChannelError {
    let context = || aws_sdk_sesv2::error::DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown");
            let reason = format!("{code}: {}", e.message().unwrap_or(""));
            if RETRY_CODES.contains(&code) || status.is_some_and(|s| s >= 500) {
                ChannelError::Retry { reason, retry_after_millis: None }
            } else if REFUSED_CODES.contains(&code) || status.is_some_and(|s| (400..500).contains(&s)) {
                ChannelError::Refused(reason)
            } else {
                ChannelError::Unconfirmed(reason)
            }
        }
        SdkError::ConstructionFailure(_) => ChannelError::Refused(context()),
        SdkError::DispatchFailure(_) if never_sent(&error) => {
            ChannelError::Retry { reason: context(), retry_after_millis: None }
        }
        // Sent (or maybe sent) and no readable answer: a timeout, a dropped connection, a garbled reply.
        _ => ChannelError::Unconfirmed(context()),
    }
}

/// Whether a dispatch failure happened before the request left: no connection was made (DNS, connect,
/// TLS). Anything after that may have reached SES.
fn never_sent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|e| e.is_connect()) {
            return true;
        }
        if e.downcast_ref::<aws_smithy_runtime_api::client::dns::ResolveDnsError>().is_some() {
            return true;
        }
        next = e.source();
    }
    false
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, ChannelError> {
        let raw = RawMessage::builder()
            .data(Blob::new(email.raw.clone()))
            .build()
            .map_err(|e| ChannelError::Refused(format!("the raw message: {e}")))?;
        // One attempt: a retry after a lost answer would be a second email. The outbox tries again, knowing
        // whether the first was unconfirmed.
        let once = aws_sdk_sesv2::config::Builder::default()
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(SEND_TIMEOUT).build());
        let sent = self
            .client
            .get()
            .send_email()
            .from_email_address(&email.from)
            .destination(Destination::builder().set_to_addresses(Some(email.to.clone())).build())
            .content(EmailContent::builder().raw(raw).build())
            .customize()
            .config_override(once)
            .send()
            .await;
        match sent {
            Ok(output) => output
                .message_id
                .ok_or_else(|| ChannelError::Unconfirmed("SendEmail answered without a MessageId".into())),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                Err(send_error(error, status))
            }
        }
    }
}

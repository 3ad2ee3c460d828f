//! Every error answer of the web edge in one type: it knows its status, its machine-readable code and its
//! words, and renders itself as a page or, to a client that asked for JSON, as
//! `{"error": {"code", "message"}}`. Logging happens where the error is made, never here.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::continuation::MAX_MESSAGE_BYTES;
use crate::domain::input::BodyError;
use crate::domain::rejection::Rejection;
use crate::web::pages;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// A link that cannot take the reviewer to the form (404/410), with its exact text and its own page.
    Rejected(Rejection),
    /// A body refused before its values were looked at (400/413/415).
    BadBody(BodyError),
    /// A submission id used before with different values (409).
    Conflict,
    /// The store failed; nothing was recorded (503, `Retry-After`).
    Unavailable,
    /// The store did not answer a write that went out: it may have been recorded (503, `Retry-After`).
    Unconfirmed,
    /// The store refused the write for good; nothing was recorded, and sending again cannot help (500).
    Unrecordable,
    /// The run's context with this input would make a continuation over the queue's size (422).
    ContinuationTooLarge {
        /// The continuation message's size.
        bytes: usize,
    },
    /// A method a link does not take (405, `Allow`).
    MethodNotAllowed,
    /// A body over the route's limit (413).
    PayloadTooLarge,
    /// A request the route cannot read (400), with what is wrong.
    BadRequest(String),
    /// An operator route asked for something that is not there (404), with what.
    NotFound(&'static str),
    /// An operator route asked from outside loopback (403).
    NotLoopback,
    /// An operator route asked with a `Host` that is not a loopback name or address (403): DNS rebinding.
    NotLoopbackHost,
    /// An operator route asked from another web origin (403).
    CrossOrigin,
    /// An operator's action asked without a caller to record as its author (403).
    NoPrincipal,
    /// An operator route's JSON body sent without `Content-Type: application/json` (415).
    OperatorMediaType,
    /// The operator routes that read continuations run on SQS, not in memory (404).
    NotInMemory,
    /// Creating or cancelling failed in storage or scheduling (503), with what to do.
    OperatorUnavailable(&'static str),
}

impl HttpError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Rejected(rejection) => StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::NOT_FOUND),
            Self::BadBody(error) => StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Conflict => StatusCode::CONFLICT,
            Self::Unavailable | Self::Unconfirmed | Self::OperatorUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unrecordable => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ContinuationTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::NotInMemory => StatusCode::NOT_FOUND,
            Self::NotLoopback | Self::NotLoopbackHost | Self::CrossOrigin | Self::NoPrincipal => StatusCode::FORBIDDEN,
            Self::OperatorMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The machine-readable code in JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rejected(rejection) => rejection.code(),
            Self::BadBody(error) => match error.status() {
                413 => "payload_too_large",
                415 => "unsupported_media_type",
                _ => "bad_request",
            },
            Self::Conflict => "conflicting_resubmission",
            Self::Unavailable | Self::OperatorUnavailable(_) => "unavailable",
            Self::Unconfirmed => "unconfirmed",
            Self::Unrecordable => "unrecordable",
            Self::ContinuationTooLarge { .. } => "continuation_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::NotLoopback | Self::NotLoopbackHost | Self::CrossOrigin => "forbidden",
            Self::NoPrincipal => "no_principal",
            Self::OperatorMediaType => "unsupported_media_type",
            Self::NotInMemory => "not_in_memory",
        }
    }

    /// The page's heading.
    fn heading(&self) -> &'static str {
        match self {
            Self::Rejected(rejection) => rejection.text(),
            Self::BadBody(error) => match error.status() {
                413 => "Response too large",
                415 => "Unsupported response format",
                _ => "Response not readable",
            },
            Self::Conflict => "Conflicting resubmission",
            Self::Unavailable => "Temporarily unavailable",
            Self::Unconfirmed => "Not confirmed",
            Self::Unrecordable => "Response not recorded",
            Self::ContinuationTooLarge { .. } => "Response too large to pass on",
            Self::OperatorUnavailable(_) => "Unavailable",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "Too large",
            Self::BadRequest(_) => "Bad request",
            Self::NotFound(_) => "Not found",
            Self::NotLoopback | Self::NotLoopbackHost | Self::CrossOrigin | Self::NoPrincipal => "Forbidden",
            Self::OperatorMediaType => "Unsupported format",
            Self::NotInMemory => "Not here",
        }
    }

    /// What the reader is told.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::Rejected(rejection) => rejection.message().into(),
            Self::BadBody(error) => format!("Your response could not be read: {error}.").into(),
            Self::Conflict => {
                "A response with the same submission id but different values was already received.".into()
            }
            Self::Unavailable => {
                "Nothing was recorded. Please try again in a moment; your answers are kept if you go back.".into()
            }
            Self::Unconfirmed => {
                "Your response may or may not have been recorded: the store did not answer in time. Send it \
                 again with the same submission id (the form does): it is recorded once, however often it is sent."
                    .into()
            }
            Self::Unrecordable => {
                "Nothing was recorded, and sending the same response again will not help: it cannot be stored.".into()
            }
            Self::ContinuationTooLarge { bytes } => format!(
                "Nothing was recorded: with your response the run's data would be {bytes} bytes, more than the \
                 {MAX_MESSAGE_BYTES} it can carry on. Shorten your answers and send again."
            )
            .into(),
            Self::MethodNotAllowed => "A link can be opened (GET) or answered (POST), nothing else.".into(),
            Self::PayloadTooLarge => "The body is too large.".into(),
            Self::BadRequest(message) => message.clone().into(),
            Self::NotFound(message) | Self::OperatorUnavailable(message) => (*message).into(),
            Self::NotLoopback => "Operator routes answer on loopback only.".into(),
            Self::NotLoopbackHost => {
                "Operator routes answer only to a loopback Host (localhost, 127.0.0.1, [::1]).".into()
            }
            Self::CrossOrigin => "Operator routes answer only to requests from the server's own origin.".into(),
            Self::NoPrincipal => {
                "An operator's action is recorded with who did it: the request carries no caller (sign it with \
                 SigV4)."
                    .into()
            }
            Self::OperatorMediaType => "Send the body as Content-Type: application/json.".into(),
            Self::NotInMemory => "Continuations are on the SQS queue; read them there.".into(),
        }
    }

    /// The answer: JSON when `json`, else a page.
    pub fn render(&self, json: bool) -> Response {
        let mut response = if json {
            (self.status(), Json(json!({"error": {"code": self.code(), "message": self.message()}}))).into_response()
        } else {
            let page = match self {
                Self::Rejected(rejection) => pages::rejection_page(*rejection),
                other => pages::error_page(other.heading(), &other.message()),
            };
            (self.status(), Html(page.into_string())).into_response()
        };
        match self {
            Self::Unavailable | Self::Unconfirmed => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            Self::MethodNotAllowed => {
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            }
            _ => {}
        }
        response
    }
}

/// Operator routes answer JSON only.
impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.render(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_answers_json_with_its_status_code_and_message() {
        let all = [
            HttpError::Rejected(Rejection::UsedUp),
            HttpError::BadBody(BodyError::TooLarge),
            HttpError::Conflict,
            HttpError::Unavailable,
            HttpError::Unconfirmed,
            HttpError::Unrecordable,
            HttpError::ContinuationTooLarge { bytes: 300_000 },
            HttpError::MethodNotAllowed,
            HttpError::PayloadTooLarge,
            HttpError::BadRequest("limit must be from 1 to 100".into()),
            HttpError::NotFound("No such intervention."),
            HttpError::NotLoopback,
            HttpError::NotLoopbackHost,
            HttpError::CrossOrigin,
            HttpError::NoPrincipal,
            HttpError::OperatorMediaType,
            HttpError::NotInMemory,
            HttpError::OperatorUnavailable("Try again."),
        ];
        for error in all {
            let response = error.render(true);
            assert_eq!(response.status(), error.status(), "{error:?}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json", "{error:?}");
            assert!(!error.message().is_empty() && !error.code().is_empty(), "{error:?}");
        }
        assert_eq!(HttpError::Unavailable.render(false).headers()[header::RETRY_AFTER], "2");
        assert_eq!(HttpError::MethodNotAllowed.render(true).headers()[header::ALLOW], "GET, HEAD, POST");
    }
}

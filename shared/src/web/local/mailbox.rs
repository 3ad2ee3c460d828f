//! The mailbox page of the local server: every message it would have sent to a reviewer (an email, a
//! Slack message as it reads now, a Teams card), as Mailpit or letter_opener show them. Loopback only.
//! An email is shown as its own HTML part, under a policy that lets it run no script and fetch nothing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use maud::{html, Markup};
use serde_json::Value;

use crate::channels::read::{email_header, email_part};
use crate::memory::{Delivered, Mailbox};
use crate::web::error::HttpError;
use crate::web::local::access::loopback_only;
use crate::web::pages::layout::layout;

/// The mailbox routes: `GET /mailbox` (the list) and `GET /mailbox/{n}` (one message), on loopback.
pub(super) fn mailbox_router(mailbox: Arc<Mailbox>) -> Router {
    Router::new()
        .route("/mailbox", get(list))
        .route("/mailbox/{n}", get(one))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(mailbox)
}

/// What the list says of one message: its channel, recipients and subject (or first line).
fn summary(delivered: &Delivered) -> (&'static str, String, String) {
    match delivered {
        Delivered::Email { email, .. } => {
            ("Email", email.to.join(", "), email_header(&email.raw, "Subject").unwrap_or_default())
        }
        Delivered::Slack { posted, message, edits } => {
            let edited = if *edits > 0 { " (edited)" } else { "" };
            ("Slack", posted.channel.clone(), format!("{}{edited}", message.text))
        }
        Delivered::Teams { channel, card } => ("Teams", channel.clone(), card_title(&card.payload)),
    }
}

fn card_title(payload: &Value) -> String {
    payload["attachments"][0]["content"]["body"]
        .as_array()
        .and_then(|body| body.iter().find_map(|b| b["text"].as_str()))
        .unwrap_or_default()
        .to_owned()
}

async fn list(State(mailbox): State<Arc<Mailbox>>) -> Html<String> {
    let delivered = mailbox.delivered();
    let content = html! {
        h1 { "Mailbox" }
        p { "Every message this local server would have sent to a reviewer, newest first." }
        @if delivered.is_empty() {
            p { "Nothing sent yet." }
        } @else {
            ol reversed {
                @for (n, message) in delivered.iter().enumerate().rev() {
                    @let (channel, to, subject) = summary(message);
                    li { a href=(format!("/mailbox/{}", n + 1)) { (channel) " to " (to) ": " (subject) } }
                }
            }
        }
    };
    Html(layout("Mailbox", content).into_string())
}

async fn one(State(mailbox): State<Arc<Mailbox>>, Path(n): Path<String>) -> Response {
    let delivered = mailbox.delivered();
    let Some(message) = n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| delivered.get(i)) else {
        return HttpError::NotFound("Not found").into_response();
    };
    match message {
        Delivered::Email { email, .. } => {
            let html = email_part(&email.raw, "text/html").unwrap_or_default();
            let mut response = Html(html).into_response();
            // The email as a mail client shows it: no script, nothing fetched, links still followed.
            let policy =
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'";
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
            response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Delivered::Slack { posted, message, edits } => {
            let content = html! {
                h1 { "Slack message to " (posted.channel) }
                p { "ts " (posted.ts) @if *edits > 0 { ", edited " (edits) " times" } }
                (blocks(&message.blocks))
                p { a href="/mailbox" { "Back to the mailbox" } }
            };
            Html(layout("Slack message", content).into_string()).into_response()
        }
        Delivered::Teams { channel, card } => {
            let content = html! {
                h1 { "Teams card to " (channel) }
                (adaptive_card(&card.payload["attachments"][0]["content"]))
                p { a href="/mailbox" { "Back to the mailbox" } }
            };
            Html(layout("Teams card", content).into_string()).into_response()
        }
    }
}

/// Slack's blocks as plain HTML: each text as written (mrkdwn unrendered), each button a link.
fn blocks(blocks: &Value) -> Markup {
    html! {
        @for block in blocks.as_array().into_iter().flatten() {
            @if let Some(text) = block["text"]["text"].as_str() { p { (text) } }
            @for field in block["fields"].as_array().into_iter().flatten() {
                @if let Some(text) = field["text"].as_str() { p { (text) } }
            }
            @for element in block["elements"].as_array().into_iter().flatten() {
                @if let (Some(text), Some(url)) = (element["text"]["text"].as_str(), element["url"].as_str()) {
                    p { a href=(url) { (text) } }
                } @else if let Some(text) = element["text"].as_str() {
                    p { (text) }
                }
            }
        }
    }
}

/// An Adaptive Card as plain HTML: its text blocks, facts and `Action.OpenUrl` links.
fn adaptive_card(card: &Value) -> Markup {
    fn card_items(items: &Value) -> Markup {
        html! {
            @for item in items.as_array().into_iter().flatten() {
                @if let Some(text) = item["text"].as_str() { p { (text) } }
                @for fact in item["facts"].as_array().into_iter().flatten() {
                    p { (fact["title"].as_str().unwrap_or_default()) ": " (fact["value"].as_str().unwrap_or_default()) }
                }
                (card_items(&item["items"]))
            }
        }
    }
    html! {
        (card_items(&card["body"]))
        @for action in card["actions"].as_array().into_iter().flatten() {
            @if let (Some(title), Some(url)) = (action["title"].as_str(), action["url"].as_str()) {
                p { a href=(url) { (title) } }
            }
        }
    }
}

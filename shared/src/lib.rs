//! Human Intervention: a workflow run pauses, a reviewer gets a signed, time-limited link to a form,
//! and their accepted submission queues the run's continuation exactly once.
//!
//! The layers, each importing only from those above it in this list:
//! - [`domain`]: what the product is — context, ids, fields, forms, the stored model, the link-creation
//!   input, the continuation, the link keys. No I/O.
//! - [`ports`]: what the operations need from storage, the queue and the timer, as traits.
//! - [`telemetry`]: logs and metrics.
//! - [`channels`]: how a message to a reviewer reads by email, in Slack and in Teams, and the Slack and
//!   Teams clients.
//! - [`service`]: the operations behind every entry point, the operator's read models, the outbox
//!   publisher.
//! - the adapters: [`memory`] (the embedded default), `aws` (DynamoDB, SQS, EventBridge Scheduler), and
//!   [`web`] (the router, the pages, the local server).
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod channels;
pub mod domain;
pub mod memory;
pub mod ports;
pub mod service;
pub mod telemetry;
pub mod web;

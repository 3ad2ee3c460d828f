//! Human Intervention: a workflow run pauses, a reviewer gets a signed, time-limited link to a form,
//! and their accepted submission queues the run's continuation exactly once.
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod context;
pub mod continuation;
pub mod creation;
pub mod error;
pub mod form;
pub mod http;
pub mod input;
pub mod local;
pub mod markdown;
pub mod memory;
pub mod model;
pub mod outcome;
pub mod pages;
pub mod queue;
pub mod schedule;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod token;

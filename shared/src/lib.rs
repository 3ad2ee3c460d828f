//! Human Intervention: a workflow run pauses, a reviewer gets a signed, time-limited link to a form,
//! and their accepted submission queues the run's continuation exactly once.
#![warn(missing_docs)]

pub mod context;
pub mod creation;
pub mod error;
pub mod form;
pub mod input;
pub mod markdown;
pub mod outcome;
pub mod pages;
pub mod time;
pub mod token;
pub mod continuation;
pub mod memory;
pub mod model;
pub mod queue;
pub mod service;
pub mod store;

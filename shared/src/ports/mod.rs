//! The ports: what the operations need from storage, the continuation queue, the timeout timer and a waiting run, with
//! the guarantees every adapter keeps. No adapter type appears in a signature.

pub mod messages;
pub mod queue;
pub mod receipts;
pub mod schedule;
pub mod store;
pub mod tasks;

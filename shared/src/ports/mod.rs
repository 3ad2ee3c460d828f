//! The ports: what the operations need from storage, the continuation queue and the timeout timer, with
//! the guarantees every adapter keeps. No adapter type appears in a signature.

pub mod queue;
pub mod schedule;
pub mod store;

//! What the product is: the run's context, ids, form fields and their value rules, forms, the posted
//! body, the stored intervention, the link-creation input, the continuation, refusals and the link keys.
//! Nothing here does I/O.

pub mod canonical;
pub mod context;
pub mod continuation;
pub mod creation;
pub mod error;
pub mod field;
pub mod form;
pub mod fuzzing;
pub mod id;
pub mod input;
pub mod ledger;
pub mod lifecycle;
pub mod message;
pub mod model;
pub mod notify;
pub mod proof;
pub mod quorum;
pub mod rejection;
pub mod reviewers;
pub mod task;
pub mod time;
pub mod token;
pub mod verdict;

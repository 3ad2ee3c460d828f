//! The embedded adapters: store, queue, timers, waiting runs, receipt keys and the reviewers' mailbox in memory, with the same guarantees as
//! DynamoDB, SQS, EventBridge Scheduler and Step Functions.

mod mailbox;
mod queue;
mod receipts;
mod scheduler;
mod store;
mod tables;
mod tasks;

pub use mailbox::{Delivered, Mailbox};
pub use queue::MemoryQueue;
pub use receipts::LocalReceipts;
pub use scheduler::MemoryScheduler;
pub use store::MemoryStore;
pub use tasks::MemoryTasks;

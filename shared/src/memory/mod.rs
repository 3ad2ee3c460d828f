//! The embedded adapters: store, queue and timers in memory, with the same guarantees as DynamoDB, SQS and
//! EventBridge Scheduler.

mod queue;
mod scheduler;
mod store;

pub use queue::MemoryQueue;
pub use scheduler::MemoryScheduler;
pub use store::MemoryStore;

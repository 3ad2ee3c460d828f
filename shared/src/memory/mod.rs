//! The embedded adapters: store, queue, timers and waiting runs in memory, with the same guarantees as
//! DynamoDB, SQS, EventBridge Scheduler and Step Functions.

mod queue;
mod scheduler;
mod store;
mod tasks;

pub use queue::MemoryQueue;
pub use scheduler::MemoryScheduler;
pub use store::MemoryStore;
pub use tasks::MemoryTasks;

//! submission's SDK floor: the clients it calls (DynamoDB, EventBridge Scheduler, SSM), one call each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, scheduler, ssm);

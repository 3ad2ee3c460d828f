//! cancel's SDK floor: the clients it calls (DynamoDB, EventBridge Scheduler, Step Functions, Lambda), one call each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, scheduler, sfn, lambda);

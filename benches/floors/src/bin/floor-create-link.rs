//! create-link's SDK floor: the clients it calls (DynamoDB, EventBridge Scheduler, SSM, Step Functions, Lambda, KMS),
//! one call each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, scheduler, ssm, sfn, lambda, kms);

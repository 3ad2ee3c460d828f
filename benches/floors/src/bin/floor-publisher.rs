//! publisher's SDK floor: the clients it calls (DynamoDB, SQS, Step Functions, Lambda, KMS, SES v2, SSM), one call
//! each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, sqs, sfn, lambda, kms, sesv2, ssm);

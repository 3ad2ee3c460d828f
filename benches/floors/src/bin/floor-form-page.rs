//! form-page's SDK floor: the clients it calls (DynamoDB, KMS, SSM), one call each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, kms, ssm);

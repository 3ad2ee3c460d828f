//! log-export's SDK floor: the clients it calls (DynamoDB, S3, KMS), one call each.

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb, s3, kms);

//! timeout's SDK floor: the client it calls (DynamoDB), one call. hello-dynamodb with the product's trust
//! store, so that its init compares with the function's (hello-dynamodb loads the system's roots).

#[path = "../floor/mod.rs"]
mod floor;

floor::main!(dynamodb);

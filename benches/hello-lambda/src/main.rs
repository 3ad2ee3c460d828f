//! The baseline Lambda function: the runtime crate and a handler that answers at once. Whatever the
//! product's functions cost beyond this (init time, memory, package size) is theirs.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({ "message": "hello" })) }))
        .await
}

//! The floor of a function on the AWS SDK: the hello-world function plus one DynamoDB GetItem, on the same
//! HTTPS stack as the product (the SDK's hyper client, rustls on ring) and the same profile. A product
//! function's package cannot be smaller than this; what it adds beyond it is its own.

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(Region::new(env("AWS_REGION")?))
        .credentials_provider(Credentials::new(env("AWS_ACCESS_KEY_ID")?, env("AWS_SECRET_ACCESS_KEY")?, None, None, "env"))
        .http_client(http)
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = env("TABLE_NAME").unwrap_or_default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (client, table) = (&client, &table);
        async move {
            let key = event.payload["id"].as_str().unwrap_or_default().to_owned();
            let item = client.get_item().table_name(table).key("pk", AttributeValue::S(key)).send().await?;
            Ok::<_, Error>(json!({ "found": item.item.is_some() }))
        }
    }))
    .await
}

//! A function's own SDK floor: the hello-world function plus one call on each AWS service client that
//! function calls (see its bin, `floor-<function>.rs`), on the product's HTTPS stack, trust store and
//! profile. What a function's package weighs beyond its own floor is its own code; what its floor weighs
//! beyond the SDK floor (hello-dynamodb) is the clients it cannot do without. Each bin includes this module
//! and calls only its own services, so LTO keeps exactly those clients. The DynamoDB client is built at
//! start (every product function builds its store's there); the others on their first call, as the
//! product does.

#![allow(dead_code)]

use aws_sdk_dynamodb::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use lambda_runtime::Error;
use serde_json::{json, Value};

/// What every client is configured from: the Lambda environment's region and credentials, one HTTPS client.
pub struct Setup {
    region: Region,
    credentials: Credentials,
    http: SharedHttpClient,
    dynamodb: aws_sdk_dynamodb::Client,
}

macro_rules! client {
    ($sdk:ident, $setup:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version_latest()
                .region($setup.region.clone())
                .credentials_provider($setup.credentials.clone())
                .http_client($setup.http.clone())
                .build(),
        )
    };
}

impl Setup {
    /// The setup from the Lambda environment, with the DynamoDB client built.
    pub fn from_env() -> Result<Self, Error> {
        let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        // The product's trust store (shared/src/aws/mod.rs): the Amazon Trust Services roots, not the system's
        // ~150, which would make a floor's init several times a function's.
        let mut trust = TrustStore::empty();
        trust.add_pem_certificate(include_bytes!("../../../../shared/src/aws/amazon-trust-services.pem").as_slice());
        let tls = TlsContext::builder().with_trust_store(trust).build()?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build_https();
        let region = Region::new(env("AWS_REGION")?);
        let credentials = Credentials::new(env("AWS_ACCESS_KEY_ID")?, env("AWS_SECRET_ACCESS_KEY")?, None, None, "env");
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .credentials_provider(credentials.clone())
                .http_client(http.clone())
                .build(),
        );
        Ok(Self { region, credentials, http, dynamodb })
    }
}

fn text(event: &Value, key: &str) -> String {
    event[key].as_str().unwrap_or_default().to_owned()
}

/// GetItem, as the SDK floor (hello-dynamodb) does.
pub async fn dynamodb(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let key = aws_sdk_dynamodb::types::AttributeValue::S(text(event, "id"));
    let item = setup.dynamodb.get_item().table_name(text(event, "table")).key("pk", key).send().await?;
    Ok(json!({ "found": item.item.is_some() }))
}

/// SendMessageBatch (the publisher's continuations).
pub async fn sqs(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
        .id("m0")
        .message_body(text(event, "body"))
        .build()?;
    client!(aws_sdk_sqs, setup).send_message_batch().queue_url(text(event, "queue")).entries(entry).send().await?;
    Ok(json!({}))
}

/// DeleteSchedule (a timer no longer needed).
pub async fn scheduler(setup: &Setup, event: &Value) -> Result<Value, Error> {
    client!(aws_sdk_scheduler, setup)
        .delete_schedule()
        .name(text(event, "name"))
        .group_name(text(event, "group"))
        .send()
        .await?;
    Ok(json!({}))
}

/// SendTaskSuccess (a waiting Step Functions run).
pub async fn sfn(setup: &Setup, event: &Value) -> Result<Value, Error> {
    client!(aws_sdk_sfn, setup)
        .send_task_success()
        .task_token(text(event, "token"))
        .output(text(event, "output"))
        .send()
        .await?;
    Ok(json!({}))
}

/// SendDurableExecutionCallbackSuccess (a waiting durable function).
pub async fn lambda(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let result = aws_sdk_lambda::primitives::Blob::new(text(event, "output"));
    client!(aws_sdk_lambda, setup)
        .send_durable_execution_callback_success()
        .callback_id(text(event, "token"))
        .result(result)
        .send()
        .await?;
    Ok(json!({}))
}

/// Sign (a receipt).
pub async fn kms(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let message = aws_sdk_kms::primitives::Blob::new(text(event, "message"));
    let signed = client!(aws_sdk_kms, setup)
        .sign()
        .key_id(text(event, "key"))
        .message(message)
        .message_type(aws_sdk_kms::types::MessageType::Raw)
        .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await?;
    Ok(json!({ "signed": signed.signature.is_some() }))
}

/// SendEmail with a raw MIME message (a reviewer's email).
pub async fn sesv2(setup: &Setup, event: &Value) -> Result<Value, Error> {
    use aws_sdk_sesv2::types::{EmailContent, RawMessage};
    let raw = RawMessage::builder().data(aws_sdk_sesv2::primitives::Blob::new(text(event, "mime"))).build()?;
    let content = EmailContent::builder().raw(raw).build();
    client!(aws_sdk_sesv2, setup).send_email().from_email_address(text(event, "from")).content(content).send().await?;
    Ok(json!({}))
}

/// GetParameter with decryption (the link keys, read at start in a deployed function).
pub async fn ssm(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let output =
        client!(aws_sdk_ssm, setup).get_parameter().name(text(event, "name")).with_decryption(true).send().await?;
    Ok(json!({ "found": output.parameter.is_some() }))
}

/// PutObject (a decision log export), with the SDK's default checksums.
pub async fn s3(setup: &Setup, event: &Value) -> Result<Value, Error> {
    let body = aws_sdk_s3::primitives::ByteStream::from(text(event, "body").into_bytes());
    client!(aws_sdk_s3, setup)
        .put_object()
        .bucket(text(event, "bucket"))
        .key(text(event, "key"))
        .body(body)
        .send()
        .await?;
    Ok(json!({}))
}

/// `main` of a floor bin calling these services (each a function above).
macro_rules! floor_main {
    ($($service:ident),+) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            let setup = floor::Setup::from_env()?;
            lambda_runtime::run(lambda_runtime::service_fn(|event: lambda_runtime::LambdaEvent<serde_json::Value>| {
                let setup = &setup;
                async move {
                    match event.payload["service"].as_str().unwrap_or_default() {
                        $(stringify!($service) => floor::$service(setup, &event.payload).await,)+
                        other => Err(format!("no service {other:?} here").into()),
                    }
                }
            }))
            .await
        }
    };
}
pub(crate) use floor_main as main;

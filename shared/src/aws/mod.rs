//! The AWS adapters: DynamoDB for the store, SQS for the queue, the stream publisher, and their
//! configuration from the environment.

pub mod dynamo;
pub mod scheduler;
pub mod sqs;
pub mod stream;

use std::sync::Arc;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

use crate::service::Service;
use crate::time::SystemClock;
use crate::token::LinkKeys;

/// The roots every AWS service endpoint chains to (Amazon Trust Services). Trusting these instead of the
/// system's store spares each SDK client parsing ~150 certificates at init (≈ 4.5 ms of a cold start).
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The HTTPS client of every SDK client: rustls on ring, trusting the Amazon Trust Services roots and the
/// PEM bundle named by `AWS_CA_BUNDLE`, if set (a TLS-inspecting proxy's roots, say).
pub fn http_client() -> Result<SharedHttpClient, String> {
    http_client_trusting(std::env::var_os("AWS_CA_BUNDLE").as_deref().map(std::path::Path::new))
}

fn http_client_trusting(bundle: Option<&std::path::Path>) -> Result<SharedHttpClient, String> {
    let mut trust = TrustStore::empty();
    trust.add_pem_certificate(AMAZON_TRUST_SERVICES);
    if let Some(path) = bundle {
        let named = |e: String| format!("AWS_CA_BUNDLE {}: {e}", path.display());
        let pem = std::fs::read(path).map_err(|e| named(e.to_string()))?;
        check_roots(&pem).map_err(named)?;
        trust.add_pem_certificate(pem);
    }
    let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| format!("TLS settings: {e}"))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// How many root certificates a PEM bundle holds; an error names what rustls would refuse (the HTTPS
/// client itself would panic on it when the first SDK client is made).
pub fn check_roots(pem: &[u8]) -> Result<usize, String> {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not a PEM certificate bundle ({e:?})"))?;
        store.add(cert).map_err(|e| format!("a certificate is not usable as a root ({e})"))?;
    }
    if store.is_empty() {
        return Err("no certificate in it".to_owned());
    }
    Ok(store.len())
}

/// The SDK's configuration loader with this product's HTTPS client (tests add their endpoint to it).
pub fn config_loader() -> Result<aws_config::ConfigLoader, String> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client()?))
}

/// The SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL` for a local
/// endpoint), with the SDK's standard retries.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, String> {
    Ok(config_loader()?.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4)).load().await)
}

/// Reads a required environment variable, naming it when missing.
pub fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
}

/// The store named by `TABLE_NAME`.
pub fn store_from_env(config: &aws_config::SdkConfig) -> Result<DynamoStore, String> {
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(config), env("TABLE_NAME")?))
}

/// The queue at `QUEUE_URL`.
pub fn queue_from_env(config: &aws_config::SdkConfig) -> Result<SqsQueue, String> {
    Ok(SqsQueue::new(aws_sdk_sqs::Client::new(config), env("QUEUE_URL")?))
}

/// The link keys: `LINK_SIGNING_KEYS` itself, or the SSM SecureString named by
/// `LINK_SIGNING_KEYS_PARAMETER` (read once at init; a failure stops the function, so nothing is ever
/// accepted unverified).
pub async fn link_keys_from_env(config: &aws_config::SdkConfig) -> Result<LinkKeys, String> {
    let spec = match std::env::var("LINK_SIGNING_KEYS") {
        Ok(spec) => spec,
        Err(_) => {
            let name = env("LINK_SIGNING_KEYS_PARAMETER")
                .map_err(|_| "set LINK_SIGNING_KEYS or LINK_SIGNING_KEYS_PARAMETER".to_owned())?;
            let output = aws_sdk_ssm::Client::new(config)
                .get_parameter()
                .name(&name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    format!("reading the signing keys from {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e))
                })?;
            output.parameter.and_then(|p| p.value).ok_or_else(|| format!("the parameter {name} has no value"))?
        }
    };
    LinkKeys::parse(&spec).map_err(|e| format!("the signing keys: {e}"))
}

/// The timeout timers, when `SCHEDULE_GROUP`, `TIMEOUT_FUNCTION_ARN` and `SCHEDULER_ROLE_ARN` are set
/// (`TIMEOUT_DLQ_ARN` optional); `None` when none of them is.
pub fn scheduler_from_env(config: &aws_config::SdkConfig) -> Result<Option<scheduler::EventBridgeScheduler>, String> {
    let names = ["SCHEDULE_GROUP", "TIMEOUT_FUNCTION_ARN", "SCHEDULER_ROLE_ARN"];
    if names.iter().all(|name| std::env::var(name).is_err()) {
        return Ok(None);
    }
    let target = scheduler::SchedulerTarget {
        group: env("SCHEDULE_GROUP")?,
        function_arn: env("TIMEOUT_FUNCTION_ARN")?,
        role_arn: env("SCHEDULER_ROLE_ARN")?,
        dead_letter_arn: std::env::var("TIMEOUT_DLQ_ARN").ok(),
    };
    Ok(Some(scheduler::EventBridgeScheduler::new(aws_sdk_scheduler::Client::new(config), target)))
}

/// The service on DynamoDB, with the link keys and links under `LINK_BASE_URL`; no timeout timers (see
/// [`with_timers_from_env`]: a function that never creates or submits links does not link that client).
pub async fn service_from_env(config: &aws_config::SdkConfig) -> Result<Service, String> {
    let store = store_from_env(config)?;
    let base_url = env("LINK_BASE_URL")?;
    url::Url::parse(&base_url).map_err(|e| format!("LINK_BASE_URL {base_url:?} is not a URL: {e}"))?;
    let keys = link_keys_from_env(config).await?;
    Ok(Service::new(Arc::new(store), Arc::new(keys), Arc::new(SystemClock), &base_url))
}

/// The service with timeout timers, when they are configured (see [`scheduler_from_env`]).
pub fn with_timers_from_env(service: Service, config: &aws_config::SdkConfig) -> Result<Service, String> {
    Ok(match scheduler_from_env(config)? {
        Some(scheduler) => service.with_scheduler(Arc::new(scheduler)),
        None => service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_roots_are_the_five_amazon_trust_services_roots() {
        assert_eq!(check_roots(AMAZON_TRUST_SERVICES), Ok(5));
    }

    #[test]
    fn a_bad_extra_bundle_is_refused_naming_the_variable_and_the_fault() {
        let dir = std::env::temp_dir().join(format!("hi-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let error = http_client_trusting(Some(&missing)).unwrap_err();
        assert!(error.starts_with("AWS_CA_BUNDLE ") && error.contains("missing.pem"), "{error}");

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let error = http_client_trusting(Some(&empty)).unwrap_err();
        assert!(error.ends_with("no certificate in it"), "{error}");

        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let error = http_client_trusting(Some(&garbage)).unwrap_err();
        assert!(error.contains("not usable as a root"), "{error}");

        let amazon = dir.join("amazon.pem");
        std::fs::write(&amazon, AMAZON_TRUST_SERVICES).unwrap();
        assert!(http_client_trusting(Some(&amazon)).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

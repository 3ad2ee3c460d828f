//! The AWS adapters: DynamoDB for the store, SQS for the queue, SES for email, the stream publisher, and
//! their configuration from the environment.

pub mod durable;
pub mod dynamo;
pub mod events;
pub mod kms;
pub mod lambda;
pub mod lazy;
pub mod s3;
pub mod scheduler;
pub mod ses;
pub mod sfn;
pub mod sqs;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

pub use dynamo::DynamoStore;
pub use lazy::LazyClient;
pub use sqs::SqsQueue;

use crate::channels::slack_client::SlackClient;
use crate::channels::teams_client::TeamsClient;
use crate::domain::time::SystemClock;
use crate::domain::token::LinkKeys;
use crate::memory::LocalReceipts;
use crate::ports::receipts::ReceiptSigner;
use crate::service::{Channels, Service};

/// The roots every AWS service endpoint chains to (Amazon Trust Services). Trusting these instead of the
/// system's store spares each SDK client parsing ~150 certificates at init (≈ 4.5 ms of a cold start).
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The HTTPS client of every SDK client: rustls on ring, trusting the Amazon Trust Services roots and the
/// PEM bundle named by `AWS_CA_BUNDLE`, if set (a TLS-inspecting proxy's roots, say).
pub fn http_client() -> Result<SharedHttpClient, String> {
    http_client_trusting(std::env::var_os("AWS_CA_BUNDLE").as_deref().map(std::path::Path::new))
}

/// [`http_client`], trusting the PEM bundle at `bundle` (what `AWS_CA_BUNDLE` names) beside the Amazon roots.
pub fn http_client_trusting(bundle: Option<&std::path::Path>) -> Result<SharedHttpClient, String> {
    let mut trust = TrustStore::empty();
    trust.add_pem_certificate(AMAZON_TRUST_SERVICES);
    if let Some(path) = bundle {
        let named = |e: String| format!("AWS_CA_BUNDLE {}: {e}", path.display());
        let pem = std::fs::read(path).map_err(|e| named(e.to_string()))?;
        check_roots(&pem).map_err(named)?;
        trust.add_pem_certificate(pem);
    }
    let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| format!("TLS settings: {e}"))?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    Ok(SharedHttpClient::new(OneConnector(client)))
}

/// The SDK's hyper client without the TLS connector it builds, and drops, for every SDK client made
/// (to load the system's CA store early, which this trust store does not use). The connector every
/// client shares is built once, on the first request; a function with three clients built four.
#[derive(Debug)]
struct OneConnector(SharedHttpClient);

impl HttpClient for OneConnector {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
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

/// The SDK configuration of a Lambda function, from its environment: the region (`AWS_REGION`), the
/// execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// `AWS_ENDPOINT_URL` for a local endpoint, `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT`; the
/// SDK's standard retries (4 attempts) and its defaults otherwise.
///
/// Not aws-config's provider chains: Lambda puts everything a function has in its environment, and
/// building those chains (profile files, IMDS, an STS client…) at every cold start took ~0.7 MB of binary.
pub fn sdk_config() -> Result<aws_types::SdkConfig, String> {
    sdk_config_from(|name| std::env::var(name).ok(), http_client()?)
}

fn sdk_config_from(
    env: impl Fn(&str) -> Option<String>,
    http_client: SharedHttpClient,
) -> Result<aws_types::SdkConfig, String> {
    let required = |name: &str| env(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("{name} is not set"));
    let region = required("AWS_REGION").or_else(|e| required("AWS_DEFAULT_REGION").map_err(|_| e))?;
    let credentials = aws_credential_types::Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        env("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        None,
        "environment",
    );
    let flag = |name: &str| env(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let config = aws_types::SdkConfig::builder()
        .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(region))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .identity_cache(aws_smithy_runtime::client::identity::IdentityCache::lazy().build())
        .http_client(http_client)
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .retry_config(aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(4))
        // aws-config's default for this behaviour version.
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_millis(3_100)).build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::enabled().build())
        .use_fips(flag("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"));
    Ok(match env("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()) {
        Some(url) => config.endpoint_url(url),
        None => config,
    }
    .build())
}

/// Reads a required environment variable, naming it when missing.
pub fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
}

/// The store named by `TABLE_NAME`.
pub fn store_from_env(config: &aws_types::SdkConfig) -> Result<DynamoStore, String> {
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(config), env("TABLE_NAME")?))
}

/// A client of `config` built on its first call (see [`LazyClient`]): every client but the store's, which
/// every invocation of every function calls.
pub fn deferred<C: 'static>(config: &aws_types::SdkConfig, build: fn(&aws_types::SdkConfig) -> C) -> LazyClient<C> {
    let config = config.clone();
    LazyClient::deferred(move || build(&config))
}

/// The queue at `QUEUE_URL`.
pub fn queue_from_env(config: &aws_types::SdkConfig) -> Result<SqsQueue, String> {
    Ok(SqsQueue::new(deferred(config, aws_sdk_sqs::Client::new), env("QUEUE_URL")?))
}

/// The link keys: `LINK_SIGNING_KEYS` itself, or the SSM SecureString named by
/// `LINK_SIGNING_KEYS_PARAMETER` (read once at init; a failure stops the function, so nothing is ever
/// accepted unverified).
pub async fn link_keys_from_env(config: &aws_types::SdkConfig) -> Result<LinkKeys, String> {
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
pub fn scheduler_from_env(config: &aws_types::SdkConfig) -> Result<Option<scheduler::EventBridgeScheduler>, String> {
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
    Ok(Some(scheduler::EventBridgeScheduler::new(deferred(config, aws_sdk_scheduler::Client::new), target)))
}

/// The service on DynamoDB, with the link keys and links under `LINK_BASE_URL`; no timeout timers (see
/// [`with_timers_from_env`]: a function that never creates or submits links does not link that client).
pub async fn service_from_env(config: &aws_types::SdkConfig) -> Result<Service, String> {
    let store = store_from_env(config)?;
    let base_url = env("LINK_BASE_URL")?;
    url::Url::parse(&base_url).map_err(|e| format!("LINK_BASE_URL {base_url:?} is not a URL: {e}"))?;
    let keys = link_keys_from_env(config).await?;
    Ok(Service::new(Arc::new(store), Arc::new(keys), Arc::new(SystemClock), &base_url))
}

/// The service with timeout timers, when they are configured (see [`scheduler_from_env`]).
pub fn with_timers_from_env(service: Service, config: &aws_types::SdkConfig) -> Result<Service, String> {
    Ok(match scheduler_from_env(config)? {
        Some(scheduler) => service.with_scheduler(Arc::new(scheduler)),
        None => service,
    })
}

/// The service answering waiting runs through Step Functions (the same endpoint settings as every client),
/// signing what it answers with (see [`receipts_from_env`]).
pub fn with_tasks_from_env(service: Service, config: &aws_types::SdkConfig) -> Result<Service, String> {
    Ok(service.with_tasks(Arc::new(tasks_from_env(config))).with_receipts(receipts_from_env(config)?))
}

/// The receipt signer: KMS keys (`RECEIPT_KMS_KEY_IDS`, the signing key first), or local P-256 keys
/// (`RECEIPT_SIGNING_KEYS`, `kid:base64key[,…]`) where KMS is not used. Neither set is refused, by name:
/// no continuation may leave unsigned.
pub fn receipts_from_env(config: &aws_types::SdkConfig) -> Result<Arc<dyn ReceiptSigner>, String> {
    if let Ok(ids) = std::env::var("RECEIPT_KMS_KEY_IDS") {
        return Ok(Arc::new(kms::KmsReceipts::from_setting(deferred(config, aws_sdk_kms::Client::new), &ids)?));
    }
    if let Ok(spec) = std::env::var("RECEIPT_SIGNING_KEYS") {
        return Ok(Arc::new(LocalReceipts::parse(&spec).map_err(|e| format!("RECEIPT_SIGNING_KEYS: {e}"))?));
    }
    Err("no receipt keys: set RECEIPT_KMS_KEY_IDS (KMS key ids or ARNs, the signing key first) or RECEIPT_SIGNING_KEYS"
        .into())
}

/// A secret from the environment: `<NAME>` itself, or the SSM SecureString named by `<NAME>_PARAMETER`
/// (read once at init); `None` when neither is set (or set empty).
pub async fn secret_from_env(config: &aws_types::SdkConfig, name: &str) -> Result<Option<String>, String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(value) = set(name) {
        return Ok(Some(value));
    }
    let Some(parameter) = set(&format!("{name}_PARAMETER")) else { return Ok(None) };
    let output =
        aws_sdk_ssm::Client::new(config)
            .get_parameter()
            .name(&parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| format!("reading {name} from {parameter}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
    let value =
        output.parameter.and_then(|p| p.value).ok_or_else(|| format!("the parameter {parameter} has no value"))?;
    Ok(Some(value))
}

/// The reviewers' channels the publisher sends on: email through SES v2 from `EMAIL_FROM`, Slack with the
/// bot token (`SLACK_BOT_TOKEN` or its SSM parameter; `SLACK_API_URL` for another endpoint), Teams through
/// the webhooks (`TEAMS_WEBHOOKS`, a JSON object name → URL, or its SSM parameter). A channel not
/// configured is `None`; one configured wrongly stops the function, by name.
pub async fn channels_from_env(config: &aws_types::SdkConfig) -> Result<Channels, String> {
    let email = ses::mailer_from_env(config)?
        .map(|(mailer, from)| (from, Arc::new(mailer) as Arc<dyn crate::ports::messages::Mailer>));
    let slack = match secret_from_env(config, "SLACK_BOT_TOKEN").await? {
        Some(token) => {
            let base = std::env::var("SLACK_API_URL").unwrap_or_else(|_| "https://slack.com/api/".to_owned());
            Some(Arc::new(SlackClient::new(&token, &base)?) as Arc<dyn crate::ports::messages::SlackApi>)
        }
        None => None,
    };
    let teams = match secret_from_env(config, "TEAMS_WEBHOOKS").await? {
        Some(spec) => Some(Arc::new(TeamsClient::parse(&spec)?) as Arc<dyn crate::ports::messages::TeamsApi>),
        None => None,
    };
    Ok(Channels { email, slack, teams })
}

/// The clients that answer waiting runs: Step Functions for tasks, Lambda for durable functions'
/// callbacks (`AWS_ENDPOINT_URL_LAMBDA`, when set, is Lambda's endpoint alone, as in the SDKs that read it).
pub fn tasks_from_env(config: &aws_types::SdkConfig) -> durable::WaitingRuns {
    let lambda_endpoint = std::env::var("AWS_ENDPOINT_URL_LAMBDA").ok().filter(|v| !v.is_empty());
    let lambda_config = config.clone();
    let lambda = LazyClient::deferred(move || {
        let mut lambda = aws_sdk_lambda::config::Builder::from(&lambda_config);
        if let Some(url) = &lambda_endpoint {
            lambda = lambda.endpoint_url(url);
        }
        aws_sdk_lambda::Client::from_conf(lambda.build())
    });
    durable::WaitingRuns::new(
        sfn::StepFunctionsTasks::new(deferred(config, aws_sdk_sfn::Client::new)),
        durable::DurableCallbacks::new(lambda),
    )
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

    fn lambda_env(extra: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let mut vars = std::collections::HashMap::from([
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        vars.extend(extra.iter().copied());
        move |name| vars.get(name).map(|v| v.to_string())
    }

    #[tokio::test]
    async fn the_sdk_configuration_comes_from_the_function_environment() {
        use aws_credential_types::provider::ProvideCredentials;
        let config = sdk_config_from(lambda_env(&[]), http_client_trusting(None).unwrap()).unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(config.use_fips(), Some(false));
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(4));
        assert!(config.identity_cache().is_some() && config.sleep_impl().is_some());

        let local = sdk_config_from(
            lambda_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"), ("AWS_USE_FIPS_ENDPOINT", "true")]),
            http_client_trusting(None).unwrap(),
        )
        .unwrap();
        assert_eq!(local.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(local.use_fips(), Some(true));
    }

    #[test]
    fn a_missing_region_or_credential_is_named() {
        let without = |name: &'static str| {
            let env = lambda_env(&[]);
            move |n: &str| if n == name { None } else { env(n) }
        };
        let error = sdk_config_from(without("AWS_REGION"), http_client_trusting(None).unwrap()).unwrap_err();
        assert_eq!(error, "AWS_REGION is not set");
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            assert_eq!(
                sdk_config_from(without(name), http_client_trusting(None).unwrap()).unwrap_err(),
                format!("{name} is not set")
            );
        }
    }
}

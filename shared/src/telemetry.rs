//! Structured JSON logs: one line per event, with the ids of the intervention it concerns
//! (`correlationId`, `interventionId`, `environmentId`) at the top level of every line (`line`).

mod line;

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use line::JsonLines;

/// Installs the JSON log subscriber; the level comes from `LOG_LEVEL` (or `RUST_LOG`): a level, or
/// `target=level` directives (`info,aws_smithy_runtime=debug`); default and fallback `info`. Calling it
/// twice is harmless.
pub fn init() {
    let spec = std::env::var("LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let _ = json_subscriber(std::io::stderr, filter_from(spec.as_deref())).try_init();
}

/// The production log format ([`JsonLines`]) on `make_writer`, below `filter`: what [`init`] installs on
/// stderr, and what the benchmarks install on a sink so a timed operation pays for its logs as deployed.
pub fn json_subscriber<W>(make_writer: W, filter: Targets) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(JsonLines::new(make_writer)).with(filter)
}

/// Dependency targets that log whole payloads below `info` (lambda_runtime the invocation event with
/// the token and the reviewer's input, the SDK the DynamoDB requests and responses holding the context,
/// the HTTP stacks the headers and bodies): capped at [`DEPENDENCY_CAP`] whatever `LOG_LEVEL` says, so
/// a log level never widens what is logged about tokens, reviewer input or secrets.
pub const CAPPED_TARGETS: [&str; 14] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy",
    "aws_sdk",
    "aws_config",
    "aws_runtime",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
    "axum",
];

/// The most verbose level a dependency target in [`CAPPED_TARGETS`] logs at.
pub const DEPENDENCY_CAP: tracing::level_filters::LevelFilter = tracing::level_filters::LevelFilter::INFO;

/// The filter for a `LOG_LEVEL` spec (default and fallback `info`), with every dependency target in
/// [`CAPPED_TARGETS`] (and any target under it) capped at [`DEPENDENCY_CAP`].
pub fn filter_from(spec: Option<&str>) -> Targets {
    use tracing::level_filters::LevelFilter;
    let parsed = spec
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let default = parsed.default_level().unwrap_or(LevelFilter::OFF);
    let capped = |target: &str| {
        CAPPED_TARGETS
            .iter()
            .any(|c| target == *c || target.starts_with(&format!("{c}_")) || target.starts_with(&format!("{c}::")))
    };
    let mut filter = Targets::new().with_default(default);
    for (target, level) in parsed.iter() {
        let level = if capped(target) { level.min(DEPENDENCY_CAP) } else { level };
        filter = filter.with_target(target, level);
    }
    for target in CAPPED_TARGETS {
        if !parsed.iter().any(|(t, _)| t == target) {
            filter = filter.with_target(target, default.min(DEPENDENCY_CAP));
        }
    }
    filter
}

/// The span every log line about one intervention carries; the ids are recorded as soon as they are known.
pub fn intervention_span(operation: &'static str) -> tracing::Span {
    tracing::info_span!(
        "intervention",
        operation,
        correlationId = tracing::field::Empty,
        interventionId = tracing::field::Empty,
        environmentId = tracing::field::Empty,
    )
}

/// Records the intervention's id in the current span.
pub fn record_intervention_id(id: &crate::domain::id::InterventionId) {
    tracing::Span::current().record("interventionId", tracing::field::display(id));
}

/// Records every id of a loaded intervention in the current span.
pub fn record_intervention(intervention: &crate::domain::model::Intervention) {
    tracing::Span::current()
        .record("interventionId", tracing::field::display(&intervention.id))
        .record("correlationId", intervention.correlation_id.as_str())
        .record("environmentId", intervention.environment_id.as_str());
}

/// [`intervention_span`] with its ids known from the start: work on one intervention outside its requests
/// (publishing, sending its messages), every line of it under the intervention's ids.
pub fn span_with_ids(
    operation: &'static str,
    correlation_id: &str,
    intervention_id: &dyn std::fmt::Display,
    environment_id: &str,
) -> tracing::Span {
    let span = intervention_span(operation);
    span.record("interventionId", tracing::field::display(intervention_id))
        .record("correlationId", correlation_id)
        .record("environmentId", environment_id);
    span
}

/// Logs that these continuations are on the queue, each under its own ids.
pub fn log_queued(continuations: &[&crate::domain::continuation::Continuation]) {
    for c in continuations {
        let span = span_with_ids("publish", &c.correlation_id, &c.intervention_id, &c.environment_id);
        span.in_scope(|| tracing::info!(continuationId = %c.id, "continuation queued"));
    }
    metrics::counter!(metric::CONTINUATIONS_PUBLISHED).increment(continuations.len() as u64);
}

/// Logs (as an error: someone must look) and counts a continuation the queue refused for good.
pub fn log_parked(c: &crate::domain::continuation::Continuation, reason: &str) {
    let span = span_with_ids("publish", &c.correlation_id, &c.intervention_id, &c.environment_id);
    span.in_scope(|| tracing::error!(continuationId = %c.id, reason, "continuation parked: the queue refuses it"));
    metrics::counter!(metric::CONTINUATIONS_PARKED).increment(1);
}

/// The CloudWatch namespace of the product's metrics.
pub const METRICS_NAMESPACE: &str = "HumanIntervention";

/// Counters, in CloudWatch Embedded Metric Format on Lambda (no-ops where no recorder is installed).
pub mod metric {
    /// Interventions created.
    pub const INTERVENTIONS_CREATED: &str = "InterventionsCreated";
    /// Form pages served.
    pub const PAGE_VIEWS: &str = "PageViews";
    /// Submissions accepted.
    pub const SUBMISSIONS_ACCEPTED: &str = "SubmissionsAccepted";
    /// Refusals, with a `reason` label (`not_found`, `link_expired`, `max_uses_reached`, `invalid_input`, …).
    pub const REJECTIONS: &str = "Rejections";
    /// Timeout continuations recorded (links that expired unanswered).
    pub const TIMEOUTS_QUEUED: &str = "TimeoutsQueued";
    /// Reminders recorded (interventions still pending at their reminder time).
    pub const REMINDERS_QUEUED: &str = "RemindersQueued";
    /// Continuations put on the queue.
    pub const CONTINUATIONS_PUBLISHED: &str = "ContinuationsPublished";
    /// Continuations the queue refused for good, parked in the store (alarmed).
    pub const CONTINUATIONS_PARKED: &str = "ContinuationsParked";
    /// Waiting runs answered (SendTaskSuccess taken).
    pub const TASKS_ANSWERED: &str = "TasksAnswered";
    /// Waiting runs found gone when answered (TaskTimedOut, TaskDoesNotExist, InvalidToken).
    pub const TASKS_GONE: &str = "TasksGone";
    /// Messages to reviewers, by `channel` (`email`, `slack`, `teams`) and `outcome` (`sent`, `parked`,
    /// `withdrawn`, `retrying`); `parked` is alarmed.
    pub const MESSAGES: &str = "Messages";
    /// Messages to reviewers refused for good by their provider and parked (alarmed).
    pub const MESSAGES_PARKED: &str = "MessagesParked";
    /// Interventions cancelled.
    pub const INTERVENTIONS_CANCELLED: &str = "InterventionsCancelled";
}

static METRICS: std::sync::OnceLock<&'static metrics_cloudwatch_embedded::Collector> = std::sync::OnceLock::new();

/// Installs the EMF recorder for a Lambda function, with the environment name as a dimension.
pub fn init_metrics(function: &'static str) {
    let environment = std::env::var("ENVIRONMENT_NAME").unwrap_or_else(|_| "default".into());
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(METRICS_NAMESPACE)
        .with_dimension("function", function)
        .with_dimension("environment", environment)
        .init();
    match collector {
        Ok(collector) => {
            let _ = METRICS.set(collector);
        }
        Err(error) => tracing::warn!(error = %error, "metrics are off"),
    }
}

/// Writes the metrics gathered since the last flush as one EMF document on stdout (after each invocation).
pub fn flush_metrics() {
    if let Some(collector) = METRICS.get() {
        if let Err(error) = collector.flush(std::io::stdout()) {
            tracing::warn!(error = %error, "writing metrics failed");
        }
    }
}

/// Counts one refusal for `reason`.
pub fn count_rejection(reason: &'static str) {
    metrics::counter!(metric::REJECTIONS, "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn no_log_level_lets_a_dependency_log_payloads_below_info() {
        for spec in [
            Some("trace"),
            Some("debug"),
            Some("info,lambda_runtime=trace,aws_smithy_runtime=trace"),
            Some("trace,hyper_util::client=trace"),
            None,
            Some("nonsense="),
        ] {
            let filter = filter_from(spec);
            for target in [
                "lambda_runtime",
                "lambda_runtime::layers::trace",
                "aws_smithy_runtime::client::orchestrator",
                "aws_sdk_dynamodb::operation",
                "hyper_util::client",
                "h2::codec",
                "lambda_http",
            ] {
                assert!(!filter.would_enable(target, &Level::DEBUG), "{spec:?}: {target} at debug");
                assert!(!filter.would_enable(target, &Level::TRACE), "{spec:?}: {target} at trace");
            }
        }
        // Our own lines follow LOG_LEVEL, and a dependency's warnings still show.
        let trace = filter_from(Some("trace"));
        assert!(trace.would_enable("human_intervention::service", &Level::TRACE));
        assert!(trace.would_enable("aws_smithy_runtime", &Level::WARN));
        let error = filter_from(Some("error"));
        assert!(!error.would_enable("lambda_runtime", &Level::INFO), "a narrower level stays narrow");
        assert!(!error.would_enable("human_intervention", &Level::INFO));
    }
}

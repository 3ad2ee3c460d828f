//! Structured JSON logs: one line per event, with the request span's correlation and intervention ids.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber; the level comes from `LOG_LEVEL` (or `RUST_LOG`), default `info`.
/// Calling it twice is harmless.
pub fn init() {
    let filter = std::env::var("LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

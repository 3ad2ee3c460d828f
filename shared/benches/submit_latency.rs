//! The whole submission's latency distribution: 10,000 submissions through `Service::submit` on the
//! in-memory store, each timed on its own, beside 10,000 page views (`Service::view`) of the same links
//! timed the same way in the same run. A fresh 100-use link every 100 submissions (created outside the
//! timed region); distinct submission ids; logs formatted as in production and written to a sink.
//!
//! Prints a table, then one `BENCH_JSON {...}` line (nanoseconds) for `make bench`.
//! `SUBMIT_LATENCY_N` changes the count.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use human_intervention::service::{SubmitResult, View};

const USES_PER_LINK: usize = 100;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut samples: Vec<u64>) -> serde_json::Value {
    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
    let row = serde_json::json!({
        "n": samples.len(),
        "mean": mean.round() as u64,
        "p50": percentile(&samples, 50.0),
        "p90": percentile(&samples, 90.0),
        "p99": percentile(&samples, 99.0),
        "p999": percentile(&samples, 99.9),
        "max": samples[samples.len() - 1],
    });
    let us = |key: &str| row[key].as_u64().unwrap_or(0) as f64 / 1000.0;
    println!(
        "{name:<16} n={:<6} mean={:>7.1} µs  p50={:>7.1} µs  p90={:>7.1} µs  p99={:>7.1} µs  p99.9={:>7.1} µs  max={:>8.1} µs",
        samples.len(),
        us("mean"),
        us("p50"),
        us("p90"),
        us("p99"),
        us("p999"),
        us("max")
    );
    row
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument other than ours means "not this one".
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"submit_latency".contains(a.as_str())) {
        return;
    }
    let n: usize = std::env::var("SUBMIT_LATENCY_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    support::production_logs_to_sink();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (submits, views) = rt.block_on(async {
        let (service, _) = support::memory_service();
        // Warm-up: allocator, caches, lazy statics.
        for i in 0..500 {
            if i % USES_PER_LINK == 0 {
                let (token, _) = support::create_20_fields(&service, USES_PER_LINK as u32).await;
                let _ = service.view(&token).await;
            }
        }
        let mut submits = Vec::with_capacity(n);
        let mut views = Vec::with_capacity(n);
        let mut token = String::new();
        for i in 0..n {
            if i % USES_PER_LINK == 0 {
                token = support::create_20_fields(&service, USES_PER_LINK as u32).await.0;
            }
            let start = Instant::now();
            let view = service.view(&token).await;
            views.push(start.elapsed().as_nanos() as u64);
            assert!(matches!(view, Ok(View::Live(_))), "live");

            let body = support::body_20_fields(&format!("latency-{i}"));
            let start = Instant::now();
            let result = service.submit(&token, support::form_request(&body)).await;
            submits.push(start.elapsed().as_nanos() as u64);
            assert!(matches!(result, Ok(SubmitResult::Accepted { .. })), "accepted");
        }
        (submits, views)
    });
    println!("whole submission on the in-memory store ({n} each, individually timed):");
    let submit = summary("Service::submit", submits);
    let view = summary("Service::view", views);
    println!("BENCH_JSON {}", serde_json::json!({ "submit": submit, "view": view }));
}

//! Handler costs on the in-memory adapters, each beside a floor measured in the same run (criterion):
//!
//! | bench | floor |
//! |---|---|
//! | `token/verify`: a link token verified | `token/hmac_floor`: one HMAC-SHA256 over the same signed bytes |
//! | `render/form_page_20`: the 20-field form page rendered | `render/escape_floor`: the same page's bytes HTML-escaped once |
//! | `input/parse_validate_20`: a 20-field post parsed and validated | `input/urldecode_floor`: the same body URL-decoded into pairs |
//! | `router/get_form_20`: `GET /i/{token}` through the public router | `router/get_stylesheet`: the stylesheet through the same router |
//! | `submit/service_submit`: a whole submission (`Service::submit`) | `submit/service_view`: a page view of the same link (`Service::view`) |
//!
//! Logs are formatted as in production (JSON lines) and written to a sink. `make bench` reads the
//! estimates from `target/criterion/*/*/new/estimates.json`.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use human_intervention::domain::input;
use human_intervention::service::{SubmitResult, View};
use human_intervention::web::pages::STYLESHEET_PATH;
use human_intervention::web::routes::public_router;
use sha2::Sha256;
use tower::ServiceExt;

/// Submissions per intervention before a fresh one is created (outside the timed region), so the
/// in-memory store's per-link submission list stays as short as a real link's.
const USES_PER_LINK: u32 = 100;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn token(c: &mut Criterion) {
    let rt = runtime();
    let (service, _) = support::memory_service();
    let (token, _) = rt.block_on(support::create_20_fields(&service, 1));
    let keys = support::keys();
    let mut group = c.benchmark_group("token");
    group.bench_function("verify", |b| b.iter(|| black_box(keys.verify(black_box(&token))).expect("valid")));
    // The cryptographic floor: one HMAC-SHA256 over what a link signs (purpose, version, kid, id, expiry).
    let mut signed = b"human-intervention/link\0v1\0bench\0".to_vec();
    signed.extend_from_slice(&[0x5a; 16 + 8]);
    group.bench_function("hmac_floor", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&[7; 32]).expect("any key length");
            mac.update(black_box(&signed));
            black_box(mac.finalize().into_bytes())
        })
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let rt = runtime();
    let (service, _) = support::memory_service();
    let (_, intervention) = rt.block_on(support::create_20_fields(&service, 1));
    let page = support::render_form(&intervention, "sub-0123456789abcdef").into_string();
    let mut group = c.benchmark_group("render");
    group.bench_function("form_page_20", |b| {
        b.iter(|| black_box(support::render_form(black_box(&intervention), "sub-0123456789abcdef").into_string()))
    });
    group.bench_function("escape_floor", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(page.len() + page.len() / 8);
            let _ = std::fmt::Write::write_str(&mut maud::Escaper::new(&mut out), black_box(&page));
            black_box(out)
        })
    });
    group.finish();
}

fn validate(c: &mut Criterion) {
    let rt = runtime();
    let (service, _) = support::memory_service();
    let (_, intervention) = rt.block_on(support::create_20_fields(&service, 1));
    let form = intervention.form.as_deref();
    let body = support::body_20_fields("sub-0123456789abcdef");
    assert!(input::validate(
        form,
        &input::parse_body(Some(support::FORM_CONTENT_TYPE), None, body.as_bytes(), form).expect("parses")
    )
    .is_ok());
    let mut group = c.benchmark_group("input");
    group.bench_function("parse_validate_20", |b| {
        b.iter(|| {
            let raw = input::parse_body(Some(support::FORM_CONTENT_TYPE), None, black_box(body.as_bytes()), form)
                .expect("parses");
            black_box(input::validate(form, &raw).expect("valid"))
        })
    });
    group.bench_function("urldecode_floor", |b| {
        b.iter(|| black_box(url::form_urlencoded::parse(black_box(body.as_bytes())).into_owned().collect::<Vec<_>>()))
    });
    group.finish();
}

fn router(c: &mut Criterion) {
    let rt = runtime();
    let (service, _) = support::memory_service();
    let (token, _) = rt.block_on(support::create_20_fields(&service, 1));
    let app = public_router(service);
    let get = |path: String| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::get(path).body(Body::empty()).expect("request");
            let response = app.oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), 200);
            black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body"))
        }
    };
    let form_path = format!("/i/{token}");
    let mut group = c.benchmark_group("router");
    group.bench_function("get_form_20", |b| b.to_async(&rt).iter(|| get(form_path.clone())));
    group.bench_function("get_stylesheet", |b| b.to_async(&rt).iter(|| get(STYLESHEET_PATH.to_owned())));
    group.finish();
}

fn submit(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("submit");
    group.bench_function("service_submit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (service, _) = support::memory_service();
                let mut timed = Duration::ZERO;
                let mut token = String::new();
                for i in 0..iters {
                    if i % u64::from(USES_PER_LINK) == 0 {
                        token = support::create_20_fields(&service, USES_PER_LINK).await.0;
                    }
                    let body = support::body_20_fields(&format!("s{i}"));
                    let start = Instant::now();
                    let result = service.submit(&token, support::form_request(&body)).await;
                    timed += start.elapsed();
                    assert!(matches!(result, Ok(SubmitResult::Accepted { .. })), "accepted");
                }
                timed
            })
        })
    });
    let (service, _) = support::memory_service();
    let (token, _) = rt.block_on(support::create_20_fields(&service, 1));
    group.bench_function("service_view", |b| {
        b.to_async(&rt).iter(|| async {
            let view = service.view(black_box(&token)).await;
            assert!(matches!(view, Ok(View::Live(_))), "live");
            black_box(view)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    support::production_logs_to_sink();
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = token, render, validate, router, submit
}
criterion_main!(benches);

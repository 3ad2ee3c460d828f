//! Instructions per request on the hot paths, for callgrind: `instructions <path> <n>` sets the path up,
//! warms it, then runs it `n` times, each time through [`measured`], the one function callgrind collects
//! in (`valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*instructions::measured*'`).
//! `make bench` (benches/run.py) runs each path so and divides the total by `n`; counts do not move with a
//! busy machine, so a change that adds instructions shows as a ratio to `benches/instructions.json`.
//!
//! | path | one request |
//! |---|---|
//! | `view` | `GET /i/{token}` of a 20-field link through the public router, body collected: the link viewed before (its page kept) |
//! | `view_first` | the same, each time a link never viewed before (its page rendered) |
//! | `submit` | a 20-field page post through the public router, success page collected |
//! | `vote` | a quorum reviewer's 20-field vote through the public router (3 reviewers, all must approve) |
//! | `create` | `Service::create` of the 20-field input |
//! | `publish10` | `publish_outbox` moving ten recorded continuations onto the in-memory queue, each receipt signed as KMS signs on AWS: remotely (a fixed signature here; the call's time is not instructions) |
//! | `publish10_local` | the same, each receipt signed with a local P-256 key (the local server's signer) |
//! | `sign_local` | one local P-256 ECDSA signature of a receipt's 32-byte message |
//! | `render20` | the 20-field form page rendered |
//! | `parse_validate20` | a 20-field post parsed and validated |
//!
//! Without arguments (`cargo bench`) it runs every path a few times and prints nothing to measure.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;

use axum::body::Body;
use axum::http::Request;
use human_intervention::domain::input;
use human_intervention::domain::proof::receipt::Jwks;
use human_intervention::memory::{LocalReceipts, MemoryQueue};
use human_intervention::ports::receipts::{ReceiptSigner, SignError};
use human_intervention::service::{publish_outbox, Outlets, Service, SubmitResult};
use human_intervention::web::routes::public_router;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// Runs once per timed iteration, outside the collected region (fresh links, bodies).
type Prepare<'a> = Box<dyn FnMut(usize) + 'a>;
/// One request.
type OneRequest<'a> = Box<dyn FnMut(usize) + 'a>;

/// The collected region: callgrind counts only what runs inside this call.
#[inline(never)]
fn measured(request: &mut dyn FnMut(usize), i: usize) {
    request(i);
}

/// Iterations run before collection: lazy statics, the allocator's pools, the metric handles.
const WARM_UP: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    support::production_logs_to_sink();
    match args.as_slice() {
        [path, n] => {
            let n: usize = n.parse().expect("a count");
            run(&rt, path, n);
        }
        // `cargo bench` with or without a filter: every path a few times, as a smoke check.
        _ => {
            for path in PATHS {
                run(&rt, path, 3);
            }
        }
    }
}

/// Every path, in the table's order.
const PATHS: [&str; 10] = [
    "view",
    "view_first",
    "submit",
    "vote",
    "create",
    "publish10",
    "publish10_local",
    "sign_local",
    "render20",
    "parse_validate20",
];

fn run(rt: &Runtime, path: &str, n: usize) {
    let (service, _) = support::memory_service();
    let (mut prepare, mut request) = setup(rt, &service, path);
    for i in 0..WARM_UP {
        prepare(i);
        request(i);
    }
    for i in WARM_UP..WARM_UP + n {
        prepare(i);
        measured(&mut *request, i);
    }
}

fn setup<'a>(rt: &'a Runtime, service: &'a Service, path: &str) -> (Prepare<'a>, OneRequest<'a>) {
    match path {
        "view" => {
            let (token, _) = rt.block_on(support::create_20_fields(service, 1));
            let app = public_router(service.clone());
            let uri = format!("/i/{token}");
            (Box::new(|_| {}), Box::new(move |_| get_page(rt, &app, &uri)))
        }
        "view_first" => {
            let app = public_router(service.clone());
            let uri = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
            let prepared = uri.clone();
            (
                Box::new(move |_| {
                    *prepared.borrow_mut() = format!("/i/{}", rt.block_on(support::create_20_fields(service, 1)).0);
                }),
                Box::new(move |_| get_page(rt, &app, &uri.borrow())),
            )
        }
        "submit" => submissions(rt, service, false),
        "vote" => submissions(rt, service, true),
        "create" => {
            let input = support::input_20_fields(1).to_string();
            (
                Box::new(|_| {}),
                Box::new(move |_: usize| {
                    rt.block_on(service.create(input.as_bytes())).expect("created");
                }),
            )
        }
        "publish10" => publish(rt, service, Box::new(Remote::new())),
        "publish10_local" => publish(rt, service, Box::new(local_key())),
        "sign_local" => {
            let key = local_key();
            let message = [7u8; 32];
            (
                Box::new(|_| {}),
                Box::new(move |_: usize| {
                    black_box(rt.block_on(key.sign(&message)).expect("signed"));
                }),
            )
        }
        "render20" => {
            let (_, intervention) = rt.block_on(support::create_20_fields(service, 1));
            (
                Box::new(|_| {}),
                Box::new(move |_: usize| {
                    black_box(support::render_form(&intervention, "sub-0123456789abcdef").into_string());
                }),
            )
        }
        "parse_validate20" => {
            let (_, intervention) = rt.block_on(support::create_20_fields(service, 1));
            let body = support::body_20_fields("sub-0123456789abcdef");
            (
                Box::new(|_| {}),
                Box::new(move |_: usize| {
                    let form = intervention.form.as_deref();
                    let raw = input::parse_body(Some(support::FORM_CONTENT_TYPE), None, body.as_bytes(), form)
                        .expect("parses");
                    black_box(input::validate(form, &raw).expect("valid"));
                }),
            )
        }
        other => panic!("unknown path {other:?}; one of {PATHS:?}"),
    }
}

fn get_page(rt: &Runtime, app: &axum::Router, uri: &str) {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    rt.block_on(async {
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);
        black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body"));
    });
}

/// 20-field page posts with distinct submission ids: on fresh 100-use links, or as the votes of a fresh
/// quorum's three reviewers, all three approvals needed (two votes counted, the third decides).
fn submissions<'a>(rt: &'a Runtime, service: &'a Service, quorum: bool) -> (Prepare<'a>, OneRequest<'a>) {
    let app = public_router(service.clone());
    let state = std::rc::Rc::new(std::cell::RefCell::new((Vec::<String>::new(), String::new())));
    let prepared = state.clone();
    let prepare = Box::new(move |i: usize| {
        let mut state = prepared.borrow_mut();
        if state.0.is_empty() {
            state.0 = if quorum {
                rt.block_on(support::create_quorum(service, 3))
            } else {
                vec![rt.block_on(support::create_20_fields(service, 100)).0; 100]
            };
        }
        state.1 = support::body_20_fields(&format!("s{i}"));
    });
    let request = Box::new(move |_: usize| {
        let (token, body) = {
            let mut state = state.borrow_mut();
            let token = state.0.pop().expect("a link");
            (token, std::mem::take(&mut state.1))
        };
        let request = Request::post(format!("/i/{token}"))
            .header("content-type", support::FORM_CONTENT_TYPE)
            .body(Body::from(body))
            .expect("request");
        rt.block_on(async {
            let response = app.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), 200);
            black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body"));
        });
    });
    (prepare, request)
}

fn local_key() -> LocalReceipts {
    LocalReceipts::random("bench").expect("a receipt key")
}

/// The signer as KMS is on AWS: the signature is computed elsewhere (one call per continuation, concurrent
/// within a batch), so this process only builds the message and reads the answer, a fixed DER signature.
struct Remote {
    signature: Vec<u8>,
}

impl Remote {
    fn new() -> Self {
        let key = local_key();
        let signature =
            tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(key.sign(&[0; 32]));
        Self { signature: signature.expect("signed") }
    }
}

#[async_trait::async_trait]
impl ReceiptSigner for Remote {
    fn key_id(&self) -> &str {
        "bench-remote"
    }

    async fn sign(&self, _: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        Ok(self.signature.clone())
    }

    async fn public_keys(&self) -> Result<Jwks, SignError> {
        Ok(Jwks { keys: Vec::new() })
    }
}

/// Ten continuations recorded (ten submissions on a fresh 10-use link), then one `publish_outbox`: each
/// signed by `receipts` as it leaves.
fn publish<'a>(
    rt: &'a Runtime,
    service: &'a Service,
    receipts: Box<dyn ReceiptSigner>,
) -> (Prepare<'a>, OneRequest<'a>) {
    let queue = MemoryQueue::new();
    let prepare = Box::new(move |i: usize| {
        rt.block_on(async {
            let (token, _) = support::create_20_fields(service, 10).await;
            for k in 0..10 {
                let body = support::body_20_fields(&format!("p{i}-{k}"));
                let result = service.submit(&token, support::form_request(&body)).await;
                assert!(matches!(result, Ok(SubmitResult::Accepted { .. })), "accepted");
            }
        });
    });
    let request = Box::new(move |_: usize| {
        let now = service.now();
        let outlets =
            Outlets { queue: &queue, tasks: None, receipts: receipts.as_ref(), messengers: Default::default() };
        let published = rt.block_on(publish_outbox(service.store().as_ref(), outlets, now, now)).expect("published");
        assert_eq!(published, 10);
    });
    (prepare, request)
}

//! The local server (the embedded default): the public routes and the operator routes in one process,
//! on the in-memory store and queue (or on DynamoDB and SQS), with the publisher running in-process.
//!
//! This file sets the server up and starts it; `background` holds its publisher and timer, `operator` the
//! operator routes, `access` who may reach them, and `demo` the demo intervention.

mod access;
mod background;
mod demo;
mod mailbox;
mod operator;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::middleware;
use axum::Router;

use crate::domain::message::Configured;
use crate::domain::time::{Clock, SystemClock};
use crate::domain::token::{LinkKey, LinkKeys};
use crate::memory::{LocalReceipts, Mailbox, MemoryQueue, MemoryScheduler, MemoryStore};
use crate::ports::queue::ContinuationQueue;
use crate::ports::receipts::ReceiptSigner;
use crate::ports::store::InterventionStore;
use crate::service::{Channels, CreateError, Service};
use crate::web::routes::{public_router, record_router, with_security_headers};

pub use crate::web::routes::TOO_LATE;
pub use demo::{demo_input, demo_one_click_input, DEMO_LINK_KEY};

use access::{loopback_only, read_whole_upload};
use background::{run_publisher, run_timer};
use mailbox::mailbox_router;

/// The sender of the local server's emails (they go to its mailbox page, nowhere else).
pub const LOCAL_SENDER: &str = "Human Intervention <approvals@localhost.localdomain>";
use operator::operator_router;

/// How the local server is set up.
#[derive(Clone)]
pub struct LocalConfig {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// Where links point; default `http://<addr>`.
    pub base_url: Option<String>,
    /// Signing keys; default a fresh random key.
    pub keys: Option<LinkKeys>,
    /// Receipt keys; default a fresh random key (`local`).
    pub receipts: Option<LocalReceipts>,
    /// The clock; default the system clock.
    pub clock: Arc<dyn Clock>,
    /// Where interventions and continuations live; default in memory.
    pub backend: Backend,
}

/// The store and queue the local server runs on.
#[derive(Clone, Default)]
pub enum Backend {
    /// In memory: nothing to set up, gone when the process ends.
    #[default]
    Memory,
    /// Any adapters, e.g. DynamoDB and SQS against a local endpoint.
    Adapters {
        /// The store.
        store: Arc<dyn InterventionStore>,
        /// The queue.
        queue: Arc<dyn ContinuationQueue>,
    },
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            base_url: None,
            keys: None,
            receipts: None,
            clock: Arc::new(SystemClock),
            backend: Backend::Memory,
        }
    }
}

/// A running local server.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The base URL of its links.
    pub base_url: String,
    /// The service it runs.
    pub service: Service,
    /// Its store.
    pub store: Arc<dyn InterventionStore>,
    /// Its queue, when it is the in-memory one (what `GET /continuations` lists).
    pub memory_queue: Option<Arc<MemoryQueue>>,
    /// Every message it would have sent to a reviewer (its mailbox page).
    pub mailbox: Arc<Mailbox>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    publisher: tokio::task::JoinHandle<()>,
    timer: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    /// Binds and starts serving; returns once the port is open.
    pub async fn start(config: LocalConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = config.base_url.unwrap_or_else(|| format!("http://{addr}"));
        let keys = match config.keys {
            Some(keys) => keys,
            None => {
                LinkKey::random("local").and_then(|key| LinkKeys::new(key, vec![])).map_err(std::io::Error::other)?
            }
        };
        let receipts: Arc<dyn ReceiptSigner> = Arc::new(match config.receipts {
            Some(receipts) => receipts,
            None => LocalReceipts::random("local").map_err(std::io::Error::other)?,
        });
        let (store, queue, memory_store, memory_queue): (Arc<dyn InterventionStore>, Arc<dyn ContinuationQueue>, _, _) =
            match config.backend {
                Backend::Memory => {
                    let store = Arc::new(MemoryStore::new());
                    let queue = Arc::new(MemoryQueue::new());
                    (store.clone(), queue.clone(), Some(store), Some(queue))
                }
                Backend::Adapters { store, queue } => (store, queue, None, None),
            };
        let scheduler = Arc::new(MemoryScheduler::new());
        // Every channel goes to the mailbox page: an input may name any of them.
        let mailbox = Arc::new(Mailbox::new(LOCAL_SENDER, None));
        let channels = Channels {
            email: Some((LOCAL_SENDER.to_owned(), mailbox.clone())),
            slack: Some(mailbox.clone()),
            teams: Some(mailbox.clone()),
        };
        let service = Service::new(store.clone(), Arc::new(keys), config.clock.clone(), &base_url)
            .with_scheduler(scheduler.clone())
            .with_receipts(receipts.clone())
            .with_channels(Configured { email: true, slack: true, teams: Vec::new(), any_teams: true });
        let app = router(service.clone(), memory_queue.clone()).merge(mailbox_router(mailbox.clone()));
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
        });
        let publisher =
            tokio::spawn(run_publisher(store.clone(), queue, receipts, channels, memory_store, config.clock.clone()));
        let timer = tokio::spawn(run_timer(service.clone(), scheduler));
        Ok(Self { addr, base_url, service, store, memory_queue, mailbox, server, publisher, timer })
    }

    /// Creates the one-click demo (sent to its reviewer's mailbox) and returns the address of its email on
    /// the mailbox page.
    pub async fn create_one_click_demo(&self) -> Result<String, CreateError> {
        self.service.create(demo_one_click_input(self.service.now()).to_string().as_bytes()).await?;
        Ok(format!("{}/mailbox/1", self.base_url))
    }

    /// The mailbox page's address.
    pub fn mailbox_url(&self) -> String {
        format!("{}/mailbox", self.base_url)
    }

    /// Creates the demo intervention and returns its link.
    pub async fn create_demo(&self) -> Result<String, CreateError> {
        let created = self.service.create(demo_input(self.service.now()).to_string().as_bytes()).await?;
        let context = serde_json::to_value(&created.context).unwrap_or_default();
        Ok(context[DEMO_LINK_KEY].as_str().unwrap_or_default().to_owned())
    }

    /// Serves until the server task ends (an I/O error) or the process is stopped.
    pub async fn wait(mut self) -> std::io::Result<()> {
        let result = (&mut self.server).await.map_err(std::io::Error::other)?;
        self.publisher.abort();
        self.timer.abort();
        result
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.abort();
        self.publisher.abort();
        self.timer.abort();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One router for the whole process: the public routes, the operator routes and the records routes (those
/// two on loopback only), every upload read whole first.
fn router(service: Service, queue: Option<Arc<MemoryQueue>>) -> Router {
    let operator = operator_router(service.clone(), queue);
    let records = record_router(service.clone()).route_layer(middleware::from_fn(loopback_only));
    public_router(service)
        .merge(with_security_headers(operator))
        .merge(records)
        .layer(middleware::from_fn(read_whole_upload))
}

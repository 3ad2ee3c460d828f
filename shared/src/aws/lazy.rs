//! SDK clients built on their first call rather than at start-up.
//!
//! Building a client (its configuration, runtime plugins and endpoint resolver) is a measurable part of a
//! cold start (benches/REPORT.md, "Init and zip per function"); a function that holds several, some for
//! rare paths (an operator's action, a waiting run's answer), paid for all of them before its first
//! request. A deferred client is built once, by whichever call needs it first, from the same configuration.

use std::sync::{Arc, OnceLock};

/// An SDK client, built by its first [`get`](LazyClient::get) (or given ready-made); clones share it.
pub struct LazyClient<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<C> LazyClient<C> {
    /// A client that `build` makes on the first call that needs it.
    pub fn deferred(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self { inner: Arc::new(Inner { client: OnceLock::new(), build: Box::new(build) }) }
    }

    /// The client, built now if no call has needed it before.
    pub fn get(&self) -> &C {
        self.inner.client.get_or_init(|| (self.inner.build)())
    }

    /// Whether the client has been built (by a call, or given ready-made).
    pub fn is_built(&self) -> bool {
        self.inner.client.get().is_some()
    }
}

impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    /// A client given ready-made (the tests' clients, with their interceptors and endpoints).
    fn from(client: C) -> Self {
        let ready = OnceLock::from(client.clone());
        Self { inner: Arc::new(Inner { client: ready, build: Box::new(move || client.clone()) }) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_deferred_client_is_built_once_by_its_first_call_and_shared_by_clones() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&built);
        let lazy = LazyClient::deferred(move || counter.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = lazy.clone();
        assert!(!lazy.is_built());
        assert_eq!(built.load(Ordering::SeqCst), 0);
        assert_eq!(*clone.get(), 100);
        assert_eq!(*lazy.get(), 100);
        assert!(lazy.is_built());
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_ready_client_is_never_rebuilt() {
        let lazy = LazyClient::from(7_u32);
        assert!(lazy.is_built());
        assert_eq!(*lazy.get(), 7);
    }
}

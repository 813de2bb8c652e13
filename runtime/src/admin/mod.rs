//! The admin HTTP API: list, deploy, activate and roll back plugin versions while the
//! stream runs. JSON over HTTP/1.1 (axum), on its own thread with its own small tokio
//! runtime, so the synchronous pipeline never shares a thread with it.
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/health` | liveness, and the active plugin of each kind |
//! | GET | `/ready` | 200 once the state, plugins and source are up, else 503 |
//! | GET | `/metrics` | Prometheus metrics (OpenMetrics text) |
//! | GET | `/plugins` | every kind, its versions and the active one |
//! | POST | `/plugins?activate=BOOL&kind=KIND&who=NAME` | deploys the body (a `.wasm` component) |
//! | POST | `/plugins/{kind}/activate/{hash}?who=NAME&reason=TEXT` | activates a stored version |
//! | POST | `/plugins/{kind}/rollback?who=NAME&reason=TEXT` | returns to the previously active version |
//! | GET | `/plugins/{kind}/history` | the kind's activations, oldest first |
//! | POST | `/plugins/{kind}/shadow?hash=HASH&who=NAME` | runs a candidate (the body, or a stored version) beside the active one |
//! | GET | `/plugins/{kind}/shadow` | the shadow's report so far |
//! | POST | `/plugins/{kind}/shadow/promote` | activates the candidate, ends the shadow |
//! | POST | `/plugins/{kind}/shadow/drop` | ends the shadow |
//! | POST | `/plugins/{kind}/reprice` | queues a reprice of every departure using the kind (202, a job) |
//! | POST | `/plugins/{kind}/price-rollback/{hash}` | queues a price rollback of that version (202, a job) |
//! | GET | `/jobs`, `/jobs/{id}` | jobs and their progress |
//! | GET | `/console` | the operations console (a web page; `/` redirects to it) |
//! | GET | `/api/rules` | every kind's versions with their call figures, and shadow reports |
//! | GET | `/api/products?q=TEXT&limit=N` | products whose key contains TEXT, with starting prices |
//! | GET | `/api/products/{product}/calendar` | a product's starting prices and departure prices |
//! | GET | `/api/departures/{departure}/history` | every price version of a departure |
//! | GET | `/api/live` | the last 15 minutes in 5 s points: events/s, freshness p50/p99, dead letters |
//! | GET | `/api/dead-letters` | the latest 100 dead letters, newest first |
//!
//! POST calls need `Authorization: Bearer TOKEN` (401 otherwise). A refusal is answered
//! `{"error": reason}` with 400 (bad request), 404 (unknown version), 409 (nothing to
//! roll back, a shadow already running), 413 (too large) or 422 (the component failed
//! validation).

pub mod client;
mod config;
mod console;
mod queries;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use config::{AdminConfig, TOKEN_ENV};

use crate::ops::Operations;

/// Why the admin API could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A non-loopback address with no token would let anyone on the network change
    /// pricing rules.
    #[error(
        "refusing to serve the admin API on non-loopback address {0} without a token: set admin.token or {TOKEN_ENV}, \
         or listen on 127.0.0.1"
    )]
    ExposedWithoutToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's runtime or thread failed.
    #[error("admin server: {0}")]
    Server(std::io::Error),
}

/// A running admin server. Dropping it shuts the server down and waits for it.
pub struct AdminHandle {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl AdminHandle {
    /// The address it listens on (with the real port when the config asked for 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets calls in flight finish, and waits.
    pub fn shutdown(mut self) -> Result<(), AdminError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), AdminError> {
        if let Some(tx) = self.shutdown.take() {
            // The server may have stopped already; then there is nobody to tell.
            let _ = tx.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(AdminError::Server(e)),
            Some(Err(_)) => Err(AdminError::Server(std::io::Error::other("the admin server thread panicked"))),
        }
    }
}

impl Drop for AdminHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "admin server stopped with an error");
        }
    }
}

/// Starts the admin API on a background thread. Version changes go through `ops`'
/// registry, which swaps them into its live set
/// ([`Registry::live`](crate::registry::Registry::live)); jobs and shadows are handed to
/// `ops`, for the runner to work through. Refuses a non-loopback address with no token;
/// binds before returning, so an address in use is reported here.
pub fn serve(config: &AdminConfig, ops: Arc<Operations>) -> Result<AdminHandle, AdminError> {
    let token = config.resolved_token();
    if token.is_none() && !config.listen.ip().is_loopback() {
        return Err(AdminError::ExposedWithoutToken(config.listen));
    }
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|source| AdminError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(AdminError::Server)?;
    listener.set_nonblocking(true).map_err(AdminError::Server)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Validation compiles components: a couple of blocking threads is plenty for
        // rare operator calls, and keeps them from competing with the pipeline.
        .max_blocking_threads(2)
        .thread_name("admin-blocking")
        .build()
        .map_err(AdminError::Server)?;
    let registry = Arc::clone(ops.registry());
    let app = routes::router(routes::AppState { registry, ops, token, max_upload: config.max_upload_bytes() });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        // A dropped sender also means stop.
                        let _ = rx.await;
                    })
                    .await
            })
        })
        .map_err(AdminError::Server)?;
    tracing::info!(%addr, "admin API listening");
    Ok(AdminHandle { addr, shutdown: Some(tx), thread: Some(thread) })
}

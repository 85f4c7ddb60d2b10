//! The HTTP layer of Clef Pro: thin handlers over the store, one error mapping.
#![forbid(unsafe_code)]

pub mod api;
mod channels;
pub mod credentials;
mod dashboard;
pub mod error;
mod export;
mod extract;
pub mod limits;
pub mod metrics;
pub mod people;
mod sso;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clef_store::Store;
pub use clef_store::now_ms;
use error::ApiError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Settings the HTTP layer needs; everything else is the store's business.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body accepted; a full batch of 500 realistic reports is about 12 MB.
    pub body_limit: usize,
    /// Where people reach the dashboard (an `https://` one makes session cookies Secure).
    pub public_url: Option<String>,
    /// Longest a request may take, upload included.
    pub request_timeout: Duration,
    /// Requests per second per API key (0: unlimited), and the burst allowed above it.
    pub api_key_rate: f64,
    pub api_key_burst: u32,
    /// Login attempts per minute per e-mail address (0: unlimited).
    pub login_attempts_per_minute: u32,
    /// How long a client may take to send its request headers (slow clients are cut off).
    pub header_read_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Test messages per channel per minute (0: unlimited).
    pub test_sends_per_minute: u32,
    /// Whether channels may target loopback, private and link-local addresses.
    pub allow_private_targets: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    /// How long a dashboard login lasts.
    pub session_ttl: Duration,
}

impl Settings {
    /// The address of one of our pages for people elsewhere (a mail, an identity provider):
    /// under the public URL, or just the path when it is unknown.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_deref().unwrap_or_default().trim_end_matches('/'))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            body_limit: 32 * 1024 * 1024,
            public_url: None,
            request_timeout: Duration::from_secs(120),
            api_key_rate: 20.0,
            api_key_burst: 200,
            login_attempts_per_minute: 10,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            allow_private_targets: false,
            test_sends_per_minute: 5,
            metrics_token: None,
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    /// Wakes the delivery worker as soon as a request has queued a message.
    pub worker: Arc<tokio::sync::Notify>,
    pub limits: Arc<Limits>,
    /// Renders `/metrics`; without it the route is not there.
    pub metrics: Option<metrics::PrometheusHandle>,
    /// Sends invitations; without it the inviter passes the link on.
    pub mailer: Option<Arc<dyn Mailer>>,
}

/// Sends one plain-text e-mail now, through the transport notifications use.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// The transport's answer, or why it failed.
    async fn send_plain(&self, to: &str, subject: &str, text: &str) -> Result<String, String>;
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: Settings, worker: Arc<tokio::sync::Notify>) -> Self {
        let limits = Limits {
            api_keys: limits::RateLimiter::new(settings.api_key_rate, settings.api_key_burst),
            logins: limits::RateLimiter::new(
                f64::from(settings.login_attempts_per_minute) / 60.0,
                settings.login_attempts_per_minute,
            ),
            test_sends: limits::RateLimiter::new(
                f64::from(settings.test_sends_per_minute) / 60.0,
                settings.test_sends_per_minute,
            ),
        };
        Self {
            store,
            settings: Arc::new(settings),
            worker,
            limits: Arc::new(limits),
            metrics: None,
            mailer: None,
        }
    }

    /// Serves `/metrics` from `handle` (the process-wide recorder's).
    pub fn with_metrics(mut self, handle: metrics::PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }
}

/// The rate limits in force; `None` where unlimited.
pub struct Limits {
    pub api_keys: Option<limits::RateLimiter>,
    pub logins: Option<limits::RateLimiter>,
    /// Per channel: a test send reaches real people, so it cannot be used to flood them.
    pub test_sends: Option<limits::RateLimiter>,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    let request_timeout = state.settings.request_timeout;
    let mut app = Router::new()
        .merge(api::routes())
        .merge(dashboard::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(
            // A slow client cannot hold a connection and a worker forever.
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Timeout
                }))
                .timeout(request_timeout),
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(limit_headers))
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(
            // Spans name the route template, never the raw path; bodies are never logged.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route =
                    req.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
                tracing::info_span!("http", method = %req.method(), route)
            }),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a request handler panicked".into()).into_response()
        }));
    for (name, value) in SECURITY_HEADERS {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    app.with_state(state)
}

/// Keep pages out of frames, scripts and styles to our own files, URLs out of referrers.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// All request headers together, at most: far above any real client, far below hyper's own
/// buffer limit.
const MAX_HEADER_BYTES: usize = 32 * 1024;

async fn limit_headers(req: Request, next: axum::middleware::Next) -> Response {
    let size: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge { limit: MAX_HEADER_BYTES }.into_response();
    }
    next.run(req).await
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => ApiError::Unavailable(e).into_response(),
    }
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests end.
///
/// Our own accept loop rather than `axum::serve`: hyper needs a timer to enforce a header
/// read timeout, and a slow-header client must not hold a connection for ever.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let header_read_timeout = state.settings.header_read_timeout;
    // A permit per open connection: at the cap, accepting waits and clients queue in the
    // kernel's listen backlog instead of exhausting file descriptors.
    let slots = Arc::new(tokio::sync::Semaphore::new(state.settings.max_connections));
    let app = router(state);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer, permit) = tokio::select! {
            accepted = async {
                let permit = slots.clone().acquire_owned().await;
                (listener.accept().await, permit)
            } => match accepted {
                (Ok((stream, peer)), Ok(permit)) => (stream, peer, permit),
                (Err(e), _) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                (_, Err(_)) => break,
            },
            () = &mut shutdown => break,
        };
        // Handlers that need the client's address (login throttling) find it as an extension.
        let app = app.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ClientAddr(peer.ip()));
            req
        });
        let service = hyper_util::service::TowerToHyperService::new(app);
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _permit = permit;
            // hyper's header timeout starts once bytes arrive (the protocol is sniffed first),
            // so a client that sends nothing at all is cut here, after the same time.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_read_timeout, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The address a connection came from (behind a proxy: the proxy's).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// How long graceful shutdown waits for in-flight requests (the binary enforces it).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

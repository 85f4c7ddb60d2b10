//! A local HTTP receiver that answers as Slack, Teams, PagerDuty or a webhook endpoint
//! document: scripted replies per path (success, permanent failure, 429 with Retry-After, 5xx,
//! hang), and every request recorded.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, body, and a Retry-After in seconds.
    Answer(u16, &'static str, Option<u64>),
    /// Never answers (until the client gives up).
    Hang,
}

/// What each service answers on success, as its documentation shows.
pub fn success(path: &str) -> Reply {
    if path.starts_with("/slack") {
        Reply::Answer(200, "ok", None)
    } else if path.starts_with("/pd") {
        Reply::Answer(202, r#"{"status":"success","message":"Event processed"}"#, None)
    } else if path.starts_with("/teams") {
        Reply::Answer(202, "", None)
    } else {
        Reply::Answer(204, "", None)
    }
}

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// What the receiver answered (0: it hung).
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    script: HashMap<String, VecDeque<Reply>>,
    received: Vec<Received>,
    /// Answer 503 to everything, as a service in an outage.
    down: bool,
}

pub struct Receiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = inner.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { answer(&state, uri, headers, body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next replies on `path`; after them, success.
    pub fn script(&self, path: &str, replies: &[Reply]) {
        let mut inner = self.inner.lock().expect("lock");
        inner.script.entry(path.to_owned()).or_default().extend(replies.iter().cloned());
    }

    /// Starts or ends an outage (503 to every request).
    pub fn set_down(&self, down: bool) {
        self.inner.lock().expect("lock").down = down;
    }

    /// Every request, on every path.
    pub fn all(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.inner.lock().expect("lock").received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until `path` has received `n` requests (at most 30 s), then a little longer to
    /// catch any extra.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        let start = Instant::now();
        while self.received(path).len() < n && start.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.received(path)
    }
}

async fn answer(state: &Mutex<Inner>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let reply = {
        let mut inner = state.lock().expect("lock");
        let reply = if inner.down {
            Reply::Answer(503, "", None)
        } else {
            inner.script.get_mut(&path).and_then(VecDeque::pop_front).unwrap_or_else(|| success(&path))
        };
        inner.received.push(Received {
            path: path.clone(),
            status: match reply {
                Reply::Answer(status, ..) => status,
                Reply::Hang => 0,
            },
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        reply
    };
    match reply {
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Reply::Answer(status, body, retry_after) => {
            let mut response = (StatusCode::from_u16(status).expect("status"), body).into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.into());
            }
            response
        }
    }
}

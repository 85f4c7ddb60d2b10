//! A database that cannot be reached is a 503 with Retry-After, on the API and the dashboard:
//! never a 404 (the thing exists) and never a 500 (nothing is broken in the server).

use crate::helpers::*;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A TCP relay to PostgreSQL that can be cut: every connection through it drops, and new
/// ones are refused.
struct Relay {
    port: u16,
    cut: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(Notify::new());
        let cut_all = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let upstream = upstream.clone();
                let cut = cut_all.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }

    /// Drops every relayed connection and stops listening.
    fn cut(&self) {
        self.task.abort();
        self.cut.notify_waiters();
    }
}

// Multi-threaded: the relay keeps running while `clef user create` blocks a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgresql_is_503_on_the_api_and_the_dashboard() {
    let Some(db) = TestDb::create().await else { return };
    // postgres://user@host:port/name → the same through the relay.
    let rest = db.url.split_once("://").expect("scheme").1;
    let (auth_host, name) = rest.split_once('/').expect("database name");
    let (auth, host) = auth_host.rsplit_once('@').map(|(a, h)| (format!("{a}@"), h)).unwrap_or_default();
    let relay = Relay::start(host.to_owned()).await;
    let url = format!("postgres://{auth}127.0.0.1:{}/{name}", relay.port);

    let app = TestApp::spawn_on(Some(&url), &[]).await;
    let (id, key) = app.integration("payments").await;
    let (status, body) = app.post("/api/v1/reports", &key, &report(1, &[("rotation", "db/prod")])).await;
    assert_eq!(status, 200, "{body}");
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let cookie = session_cookie(&app, "owner@acme.example", "a long password").await;

    relay.cut();

    let r = app
        .client
        .get(app.url(&format!("/api/v1/integrations/{id}/reports/{}", sha(1))))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"), "{:?}", r.headers());
    let (_, body) = answer(r).await;
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    let (status, body) = app.get(&format!("/api/v1/integrations/{id}/matrix"), &app.token).await;
    assert_eq!(status, 503, "{body}");
    let (status, _) = app.post("/api/v1/reports", &key, &report(2, &[])).await;
    assert_eq!(status, 503, "CI retries a 5xx once, so an outage must not look like a 4xx");

    let page = browser
        .get(app.url(&format!("/integrations/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.expect("html").contains("Temporarily unavailable"));
    drop(app);
    db.drop_now().await;
}

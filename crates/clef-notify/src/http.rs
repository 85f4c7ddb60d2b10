//! The outbound HTTP client of the chat, paging and webhook notifiers. It reaches public
//! addresses only (unless `allow_private`): names are resolved here and refused when any address
//! is internal, so neither a target URL nor a DNS answer can point Clef Pro at its own network.
//! Redirects are not followed (a public URL could redirect inward); connect and whole-request
//! timeouts bound every attempt.

use crate::SendError;
use clef_core::net::private_range;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Allow loopback, private and link-local targets (on-premise receivers, tests).
    pub allow_private: bool,
    /// Longest one request may take, connection included.
    pub timeout: Duration,
}

/// A client that only reaches allowed addresses.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    allow_private: bool,
}

/// The receiver's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The start of the body, for the delivery log.
    pub body: String,
}

/// A resolution refused because the name leads to an internal address.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // Any internal answer refuses the name: a mixed answer is how rebinding starts.
            if let Some((addr, why)) = addrs.iter().find_map(|a| private_range(a.ip()).map(|w| (a, w))) {
                let reason =
                    clef_core::notification::refusal(&format!("{host} resolves to {}, {why}", addr.ip()));
                return Err(Box::new(Refused(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Http {
    pub fn new(config: &HttpConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Clef-Pro/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self { client: builder.build()?, allow_private: config.allow_private })
    }

    /// POSTs a JSON body. Transport failures are transient; a refused address is not.
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<Answer, SendError> {
        // Literal addresses never reach the resolver: they are judged here.
        let parsed =
            clef_core::notification::check_url(url, self.allow_private).map_err(SendError::Invalid)?;
        let mut request = self.client.post(parsed).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // A slow or endless body must not hold the worker: read what comes within the timeout.
        let body = response.text().await.unwrap_or_default();
        Ok(Answer { status, retry_after, body: body.chars().take(300).collect() })
    }
}

/// What a transport failure means; a refused address is final, the rest may pass.
fn transport_error(e: reqwest::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return SendError::Invalid(refused.0.clone());
        }
        source = err.source();
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The URL is a secret: reqwest's message names it, so it is left out.
    SendError::Transient(format!("{what}: {}", e.without_url()))
}

/// HTTP status codes mean the opposite of SMTP's: 4xx is our fault and final, 5xx the
/// receiver's and passing. `service` names the receiver in the delivery log.
pub fn classify(answer: Answer, service: &str) -> Result<String, SendError> {
    let Answer { status, retry_after, body } = answer;
    let detail = if body.is_empty() {
        format!("{service} answered {status}")
    } else {
        format!("{service} answered {status}: {body}")
    };
    match status {
        200..=299 => Ok(detail),
        429 => match retry_after {
            Some(wait) => Err(SendError::RetryAfter(detail, wait)),
            None => Err(SendError::Transient(detail)),
        },
        408 | 500..=599 => Err(SendError::Transient(detail)),
        300..=399 => Err(SendError::Permanent(format!("{detail} (redirects are not followed)"))),
        _ => Err(SendError::Permanent(detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<u64>) -> Answer {
        Answer { status, retry_after: retry_after.map(Duration::from_secs), body: String::new() }
    }

    #[test]
    fn statuses_map_to_retry_rules() {
        assert!(classify(answer(200, None), "Slack").is_ok());
        assert!(classify(answer(202, None), "PagerDuty").is_ok());
        assert_eq!(
            classify(answer(429, Some(7)), "Slack"),
            Err(SendError::RetryAfter("Slack answered 429".into(), Duration::from_secs(7)))
        );
        assert!(matches!(classify(answer(429, None), "x"), Err(SendError::Transient(_))));
        assert!(matches!(classify(answer(503, None), "x"), Err(SendError::Transient(_))));
        for status in [400, 403, 404, 410, 302] {
            assert!(matches!(classify(answer(status, None), "x"), Err(SendError::Permanent(_))), "{status}");
        }
    }

    #[tokio::test]
    async fn literal_internal_targets_are_refused_without_a_connection() {
        let http =
            Http::new(&HttpConfig { allow_private: false, timeout: Duration::from_secs(1) }).expect("client");
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/",
        ] {
            let err = http.post_json(url, Vec::new(), &[]).await.expect_err(url);
            assert!(matches!(&err, SendError::Invalid(m) if m.starts_with("refused")), "{url}: {err:?}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let http =
            Http::new(&HttpConfig { allow_private: false, timeout: Duration::from_secs(1) }).expect("client");
        let err = http.post_json("http://localhost:9/", Vec::new(), &[]).await.expect_err("refused");
        assert!(matches!(&err, SendError::Invalid(m) if m.contains("loopback")), "{err:?}");
    }
}

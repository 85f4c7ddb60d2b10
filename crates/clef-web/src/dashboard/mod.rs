//! The dashboard: server-rendered pages from askama templates, assets embedded in the binary.
//! Handlers are split by page; every state change is a POST with the session's CSRF token.

mod account;
mod alerts;
mod charts;
mod integration;
mod invitations;
mod members;
mod overview;
mod session;
mod settings;
mod sso;
mod trends;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clef_core::{CommitSha, Millis};
use clef_store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/alerts") }))
        .route("/alerts", get(alerts::inbox))
        .route("/alerts/acknowledge", post(alerts::acknowledge_many))
        .route("/alerts/export", get(trends::export_alerts))
        .route("/trends", get(trends::page))
        .route("/integrations/{id}/reports/export", get(trends::export_reports))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/integrations", get(overview::page).post(overview::create))
        .route("/integrations/{id}", get(integration::matrix))
        .route("/integrations/{id}/reports", get(integration::reports))
        .route("/integrations/{id}/reports/{sha}/delete", post(integration::delete_report))
        .route("/integrations/{id}/alerts", get(alerts::list))
        .route("/alerts/{id}", get(alerts::detail))
        .route("/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/alerts/{id}/unacknowledge", post(alerts::unacknowledge))
        .route("/integrations/{id}/settings", get(settings::page).post(settings::save_general))
        .route("/integrations/{id}/delete", post(settings::delete_integration))
        .route("/integrations/{id}/keys", post(settings::create_key))
        .route("/integrations/{id}/keys/{key}/revoke", post(settings::revoke_key))
        .route("/integrations/{id}/policies", post(settings::save_policies))
        .route("/integrations/{id}/channels", post(settings::add_channel))
        .route("/integrations/{id}/channels/{channel}", post(settings::edit_channel))
        .route("/integrations/{id}/channels/{channel}/delete", post(settings::delete_channel))
        .route("/integrations/{id}/channels/{channel}/test", post(settings::test_channel))
        .route("/integrations/{id}/channels/{channel}/rotate", post(settings::rotate_channel_secret))
        .route("/audit-log", get(settings::audit_log))
        .route("/members", get(members::page))
        .route("/members/invite", post(members::invite))
        .route("/members/{user}/role", post(members::change_role))
        .route("/members/{user}/remove", post(members::remove))
        .route("/members/invitations/{id}/revoke", post(members::revoke_invitation))
        .route("/invitations/{secret}", get(invitations::page).post(invitations::accept))
        .route("/invitations/{secret}/sso", post(invitations::accept_with_sso))
        .route("/sso/start", post(sso::start))
        .route("/sso/callback", get(sso::callback))
        .route("/members/sso", post(sso::save))
        .route("/members/sso/delete", post(sso::delete))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/account/organization", post(account::switch_organization))
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", include_str!("../../static/app.js")) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

/// What every page's frame shows: who is looking, where they are, and the CSRF token.
pub struct Layout {
    pub title: String,
    pub section: &'static str,
    pub email: String,
    pub org: String,
    pub org_id: String,
    /// (id, name) of every organisation of the person; a switcher shows when there are two.
    pub organizations: Vec<(String, String)>,
    pub role: &'static str,
    pub csrf: String,
    pub can_manage: bool,
    pub can_ack: bool,
    /// The confirmation of the action that led here.
    pub notice: Option<&'static str>,
}

/// What a `done` code in the query says the last action did: the confirmation banner every
/// page shows after a redirect.
pub fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "acknowledged" => "Acknowledged: notifications for it stop.",
        "snoozed" => "Snoozed: notifications stop until the time you chose.",
        "unacknowledged" => "Acknowledgement withdrawn: notifications resume.",
        "bulk" => "The selected alerts are acknowledged.",
        "saved" => "Saved.",
        "channel-added" => "Channel added. Send a test to check it arrives.",
        "channel-saved" => "Channel saved.",
        "channel-removed" => "Channel removed.",
        "test-queued" => "Test message queued: its outcome shows in the delivery log below.",
        "key-revoked" => "API key revoked.",
        "renamed" => "Integration renamed.",
        "integration-deleted" => "Integration deleted, with its reports, alerts and channels.",
        "report-deleted" => "Report deleted.",
        "role-changed" => "Role changed: it applies from their next click.",
        "member-removed" => "Member removed: their sessions ended and their tokens stopped working.",
        "invitation-revoked" => "Invitation revoked: its link no longer works.",
        "password-changed" => "Password changed. Your other sessions have ended.",
        "session-ended" => "Session ended.",
        "token-revoked" => "Token revoked.",
        "switched" => "You are now looking at another organisation.",
        "joined" => "Welcome: you have joined the organisation.",
        "sso-saved" => "Single sign-on saved.",
        "sso-off" => "Single sign-on is off: passwords work again.",
        _ => return None,
    })
}

/// Whether `password` matches the stored argon2 hash. Argon2 takes tens of milliseconds of
/// CPU: it runs off the async workers, as does hashing.
pub(super) async fn password_matches(password: String, stored: String) -> Result<bool, DashError> {
    tokio::task::spawn_blocking(move || crate::credentials::verify_password(&password, &stored))
        .await
        .map_err(|e| DashError::Internal(e.to_string()))
}

pub(super) async fn password_hash(password: String) -> Result<String, DashError> {
    tokio::task::spawn_blocking(move || crate::credentials::hash_password(&password))
        .await
        .map_err(|e| DashError::Internal(e.to_string()))?
        .map_err(|e| DashError::Internal(e.to_string()))
}

/// Back to where the person was, when that is a page of ours, saying what was done.
pub(crate) fn back_to(back: &str, fallback: String, done: &str) -> Redirect {
    let to = if back.starts_with('/') && !back.starts_with("//") { back.to_owned() } else { fallback };
    let (path, fragment) = to.split_once('#').map_or((to.as_str(), ""), |(p, f)| (p, f));
    let sep = if path.contains('?') { '&' } else { '?' };
    let hash = if fragment.is_empty() { String::new() } else { format!("#{fragment}") };
    Redirect::to(&format!("{path}{sep}done={done}{hash}"))
}

/// A rendered template as an HTML response.
pub struct Page<T>(pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(html) => Html(html).into_response(),
            Err(e) => DashError::Internal(e.to_string()).into_response(),
        }
    }
}

/// A form body; a malformed one answers with the HTML error page, like every dashboard error.
pub struct DashForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for DashForm<T> {
    type Rejection = DashError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, DashError> {
        axum::Form::<T>::from_request(req, state).await.map(|axum::Form(value)| Self(value)).map_err(|e| {
            DashError::BadRequest(format!("The form was incomplete or malformed: {}", e.body_text()))
        })
    }
}

/// Errors shown as a page, never as a bare status.
#[derive(Debug)]
pub enum DashError {
    NotFound,
    Forbidden(String),
    BadRequest(String),
    /// The database is busy or unreachable: worth a retry in a moment.
    Unavailable(String),
    Internal(String),
}

impl From<StoreError> for DashError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(_) => Self::BadRequest("That name is taken already.".into()),
            StoreError::Refused(why) => Self::BadRequest(why),
            StoreError::Busy(cause) => Self::Unavailable(cause.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    heading: &'static str,
    message: String,
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let unavailable = matches!(self, Self::Unavailable(_));
        let (status, heading, message) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours to see.".to_owned(),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "That did not work", m),
            Self::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "dashboard page: storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "The database cannot be reached right now. Try again in a moment.".to_owned(),
                )
            }
            Self::Internal(cause) => {
                tracing::error!(error.cause = %cause, "dashboard page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The error was logged.".to_owned(),
                )
            }
        };
        let page = ErrorPage { status: status.as_u16(), heading, message };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => status.into_response(),
        };
        if unavailable {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                crate::error::retry_after_header(crate::error::UNAVAILABLE_RETRY_AFTER),
            );
        }
        response
    }
}

/// A moment for people: how long ago (or ahead), with the absolute time in UTC for the
/// `title` (shown on hover) and the machine-readable `datetime`.
pub struct Stamp {
    pub ms: Millis,
    pub ago: String,
    pub abs: String,
    pub iso: String,
}

impl Stamp {
    pub fn new(ms: Millis, now: Millis) -> Self {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
        let abs = t
            .map(|t| {
                let (d, h) = (t.date(), t.time());
                format!(
                    "{}-{:02}-{:02} {:02}:{:02} UTC",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    h.hour(),
                    h.minute()
                )
            })
            .unwrap_or_default();
        let ago =
            if ms > now { format!("in {}", ago(now, ms).trim_end_matches(" ago")) } else { ago(ms, now) };
        Self { ms, ago, abs, iso: crate::api::dto::rfc3339(ms) }
    }
}

/// "3 min ago", for people.
pub fn ago(then: Millis, now: Millis) -> String {
    let s = (now - then).max(0) / 1000;
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

pub fn short(sha: &CommitSha) -> String {
    sha.short().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_after_an_action_says_what_was_done() {
        let to = |back: &str| {
            super::back_to(back, "/alerts/x".into(), "acknowledged")
                .into_response()
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        use axum::response::IntoResponse;
        assert_eq!(to("/alerts?status=open").as_deref(), Some("/alerts?status=open&done=acknowledged"));
        assert_eq!(to("//evil.example").as_deref(), Some("/alerts/x?done=acknowledged"));
        assert_eq!(to("/alerts/y#seen").as_deref(), Some("/alerts/y?done=acknowledged#seen"));
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(0, 30_000), "just now");
        assert_eq!(ago(0, 125_000), "2 min ago");
        assert_eq!(ago(0, 7_200_000), "2 h ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3 d ago");
    }
}

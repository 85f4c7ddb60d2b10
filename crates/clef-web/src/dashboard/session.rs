//! Logging in and out, and who is looking at a page. The session cookie carries a random
//! token (HttpOnly, SameSite=Lax, Secure behind https); the database keeps only its hash,
//! the user and a CSRF token that every state-changing form must send back.

use super::DashForm;
use super::{DashError, Layout, Page};
use crate::credentials::hash_secret;
use crate::{AppState, now_ms};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use clef_store::{AuthMethod, NewSession, User};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use serde::Deserialize;
use subtle::ConstantTimeEq;

const COOKIE: &str = "clef_session";

/// A logged-in person looking at the dashboard.
pub struct Viewer {
    pub user: User,
    pub session_id: clef_core::SessionId,
    pub csrf: String,
    /// Every organisation of the person when there are several, for the switcher in the header.
    organizations: Vec<clef_store::Membership>,
    pub auth_method: AuthMethod,
    token_hash: String,
    /// The confirmation a redirect after an action asked for (`?done=`).
    notice: Option<&'static str>,
}

/// The value of the request's cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next: String = url_encode(next);
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else { return Err(to_login()) };
        let token_hash = hash_secret(token);
        let session = match state.store.session(&token_hash, now_ms()).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(DashError::from(e).into_response()),
        };
        // The switcher's list is read only for people with more than one organisation.
        let organizations = if session.organizations > 1 {
            state.store.memberships(&session.user.id).await.map_err(|e| DashError::from(e).into_response())?
        } else {
            Vec::new()
        };
        let notice = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "done")
            .find_map(|(_, v)| super::notice(&v));
        Ok(Self {
            user: session.user,
            session_id: session.id,
            auth_method: session.auth_method,
            csrf: session.csrf_token,
            organizations,
            token_hash,
            notice,
        })
    }
}

impl Viewer {
    /// Every state change carries the session's CSRF token; compared in constant time.
    pub fn check_csrf(&self, sent: &str) -> Result<(), DashError> {
        if bool::from(self.csrf.as_bytes().ct_eq(sent.as_bytes())) {
            Ok(())
        } else {
            Err(DashError::Forbidden(
                "The form was stale or forged (CSRF check failed). Reload the page and try again.".into(),
            ))
        }
    }

    /// A settings change: the form's CSRF token, then a role that may manage.
    pub fn may_manage(&self, csrf: &str) -> Result<(), DashError> {
        self.check_csrf(csrf)?;
        if self.user.role.can_manage() {
            Ok(())
        } else {
            Err(DashError::Forbidden(format!(
                "Your role ({}) can read but not change settings.",
                self.user.role.as_str()
            )))
        }
    }

    /// An acknowledgement: the form's CSRF token, then a role that may acknowledge.
    pub fn may_acknowledge(&self, csrf: &str) -> Result<(), DashError> {
        self.check_csrf(csrf)?;
        if self.user.role.can_acknowledge() {
            Ok(())
        } else {
            Err(DashError::Forbidden("Viewers cannot acknowledge alerts.".into()))
        }
    }

    pub fn actor(&self) -> clef_store::Actor {
        self.user.actor(now_ms())
    }

    pub fn layout(&self, section: &'static str, title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            section,
            email: self.user.email.clone(),
            org: self.user.org_name.clone(),
            org_id: self.user.org_id.to_string(),
            organizations: self
                .organizations
                .iter()
                .map(|m| (m.org_id.to_string(), m.org_name.clone()))
                .collect(),
            role: self.user.role.as_str(),
            csrf: self.csrf.clone(),
            can_manage: self.user.role.can_manage(),
            can_ack: self.user.role.can_acknowledge(),
            notice: self.notice,
        }
    }
}

pub(super) fn url_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only paths of this site: `next` must never send someone to another host. Judged on the
/// decoded form (browsers drop tabs and newlines, so `/%09/evil.example` is `//evil.example`):
/// a slash followed by a letter or digit, no backslash, nothing hidden, no whitespace. Anything
/// else is ignored.
fn safe_next(next: Option<&str>) -> &str {
    const HOME: &str = "/alerts";
    let Some(raw) = next else { return HOME };
    let decoded = percent_decode(raw);
    let mut chars = decoded.chars();
    let well_formed = chars.next() == Some('/')
        && chars.next().is_none_or(|c| c.is_ascii_alphanumeric())
        && !decoded.contains('\\')
        && !decoded.chars().any(|c| c.is_whitespace() || clef_core::text::is_hidden(c))
        && raw.chars().all(|c| c.is_ascii_graphic());
    if well_formed { raw } else { HOME }
}

/// `%XX` sequences decoded, twice over (a value may have been encoded twice); anything
/// malformed is kept as it is.
fn percent_decode(raw: &str) -> String {
    let once = |s: &str| -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    once(&once(raw))
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    email: String,
    error: Option<String>,
    /// Also in the `clef_login` cookie: a login form posted from another site has the field
    /// but not the cookie (SameSite=Strict), so it cannot log a victim into someone's account.
    login_csrf: String,
}

const LOGIN_COOKIE: &str = "clef_login";

fn login_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{LOGIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"))
        .unwrap_or_else(|_| HeaderValue::from_static("clef_login=; Path=/; Max-Age=0"))
}

/// A login page answer: the page with a fresh login token, and the cookie that matches it.
pub(super) fn login_page(
    status: axum::http::StatusCode,
    next: String,
    email: String,
    error: Option<String>,
) -> Response {
    let token = Alphanumeric.sample_string(&mut OsRng, 32);
    let mut response =
        (status, Page(LoginPage { next, email, error, login_csrf: token.clone() })).into_response();
    response.headers_mut().append(header::SET_COOKIE, login_cookie(&token));
    response
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(Query(q): Query<NextQuery>) -> Response {
    login_page(axum::http::StatusCode::OK, safe_next(q.next.as_deref()).to_owned(), String::new(), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    login_csrf: String,
}

/// Whether a login form (password or single sign-on) came from our own login page: its token
/// matches the login cookie, which another site's form cannot carry (SameSite=Strict).
pub(super) fn login_form_is_ours(headers: &HeaderMap, token: &str) -> bool {
    cookie(headers, LOGIN_COOKIE)
        .is_some_and(|cookie| !token.is_empty() && bool::from(cookie.as_bytes().ct_eq(token.as_bytes())))
}

/// Login attempts are counted per source address and account: guessing from one place is
/// throttled, while the account's owner, elsewhere, can still log in. Behind a reverse proxy
/// every request comes from the proxy, and the count is per account.
fn throttle_key(peer: Option<std::net::IpAddr>, email: &str) -> String {
    match peer {
        Some(ip) => format!("{ip}|{email}"),
        None => email.to_owned(),
    }
}

/// A valid hash of a random password: unknown e-mails cost the same time as wrong passwords.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2gY2mTEzWoY0LX0aM6ZTZXvO3wFf1yJd5MLsrYj8gD0";

pub async fn login(
    State(state): State<AppState>,
    peer: Option<axum::Extension<crate::ClientAddr>>,
    headers: HeaderMap,
    DashForm(form): DashForm<LoginForm>,
) -> Result<Response, DashError> {
    let email = form.email.trim().to_ascii_lowercase();
    let next = safe_next(form.next.as_deref()).to_owned();
    if !login_form_is_ours(&headers, &form.login_csrf) {
        tracing::warn!("login refused: missing or mismatched login token");
        let error = Some("The login form expired or came from another site. Log in again.".to_owned());
        return Ok(login_page(axum::http::StatusCode::FORBIDDEN, next, email, error));
    }
    if let Some(limiter) = &state.limits.logins
        && let Err(wait) = limiter.check(&throttle_key(peer.map(|p| p.0.0), &email))
    {
        tracing::warn!("login attempts throttled");
        let error = Some("Too many attempts. Wait a minute and try again.".into());
        let mut response = login_page(axum::http::StatusCode::TOO_MANY_REQUESTS, next, email, error);
        response.headers_mut().insert(header::RETRY_AFTER, crate::error::retry_after_header(wait));
        return Ok(response);
    }
    let user = state.store.user_by_email(&email).await?;
    // No password (single sign-on only) costs the same and fails the same.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
    let verified = super::password_matches(form.password, stored).await?;
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!("failed dashboard login");
        let error = Some("Unknown e-mail or wrong password.".into());
        return Ok(login_page(axum::http::StatusCode::UNAUTHORIZED, next, email, error));
    };
    // The first organisation of theirs that still takes passwords from them.
    let mut member = None;
    for m in state.store.memberships(&user.id).await? {
        let sso = state.store.sso_config(&m.org_id).await?;
        if sso.is_none_or(|c| c.allows_password(&user.id)) {
            member = state.store.member(&user.id, &m.org_id).await?;
            break;
        }
    }
    let Some(user) = member else {
        tracing::info!("password login refused: single sign-on only");
        let error = Some("Your organisation signs in with single sign-on only: use it below.".into());
        return Ok(login_page(axum::http::StatusCode::FORBIDDEN, next, email, error));
    };
    start_session(&state, &headers, &user, AuthMethod::Password, &next).await
}

/// Logs `user` in on this browser (in the organisation `user` is a member of) and sends them
/// to `next`.
pub(super) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    auth_method: AuthMethod,
    next: &str,
) -> Result<Response, DashError> {
    let token = Alphanumeric.sample_string(&mut OsRng, 43);
    let now = now_ms();
    let lifetime = state.settings.session_ttl;
    state
        .store
        .create_session(NewSession {
            token_hash: hash_secret(&token),
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            user_agent: user_agent(headers),
            auth_method,
            csrf_token: Alphanumeric.sample_string(&mut OsRng, 32),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX)),
        })
        .await?;
    let secure = is_https(headers, state.settings.public_url.as_deref());
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        lifetime.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// How the browser names itself, shortened: enough for a person to tell their sessions apart.
fn user_agent(headers: &HeaderMap) -> String {
    let raw = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown browser");
    raw.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Behind a TLS-terminating proxy the request itself is plain HTTP: trust the public URL
/// or the proxy's `X-Forwarded-Proto`.
fn is_https(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u.starts_with("https://"))
        || headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    /// Missing is refused by the CSRF check (403), like a wrong one.
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    DashForm(form): DashForm<CsrfForm>,
) -> Result<Response, DashError> {
    viewer.check_csrf(&form.csrf)?;
    state.store.delete_session(&viewer.token_hash).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("clef_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/integrations/x?commit=1")), "/integrations/x?commit=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:x",
            "/%09/evil.example",
            "/%2F/evil.example",
            "/%252F/evil.example",
            "/\t/evil.example",
            "/x\r\nSet-Cookie: a=b",
            "/x%0d%0aSet-Cookie:%20a=b",
            "/x\0",
        ] {
            assert_eq!(safe_next(Some(bad)), "/alerts", "{bad}");
        }
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2_hash() {
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}

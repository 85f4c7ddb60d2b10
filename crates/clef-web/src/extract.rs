//! Extractors whose every rejection is an [`ApiError`], so no client input can produce
//! axum's plain-text defaults.

use crate::AppState;
use crate::credentials::{API_KEY_PREFIX, TOKEN_PREFIX, hash_secret};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use clef_store::{ApiKeyGrant, User};
use serde::de::DeserializeOwned;

/// The raw bytes of a JSON request body, within the configured size limit.
pub struct JsonBody(pub Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !(essence == "application/json" || essence.ends_with("+json")) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "expected Content-Type: application/json, got {essence:?}"
                )));
            }
        }
        let limit = state.settings.body_limit;
        Bytes::from_request(req, state).await.map(JsonBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::bad_request("unreadable_body", rejection.body_text(), None)
            }
        })
    }
}

/// One path parameter, as the id type the handler names.
pub struct Id<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|r| ApiError::bad_request("invalid_path", r.body_text(), None))
    }
}

/// Two path parameters: `/…/{parent}/…/{child}`.
pub struct Ids<A, B = String>(pub A, pub B);

impl<A: DeserializeOwned + Send, B: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S>
    for Ids<A, B>
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<(A, B)>::from_request_parts(parts, state)
            .await
            .map(|Path((a, b))| Ids(a, b))
            .map_err(|r| ApiError::bad_request("invalid_path", r.body_text(), None))
    }
}

/// Query parameters; a bad one is a 400 that names it.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| QueryParams(q))
            .map_err(|r| ApiError::bad_request("invalid_query", r.body_text(), Some("query")))
    }
}

/// Who is calling: CI with an API key, or a person with a token.
pub enum Principal {
    ApiKey(ApiKeyGrant),
    User(User),
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        // The OTLP paths are called by `clef report --push`, which takes its headers from
        // CLEF_TELEMETRY_HEADERS only; its docs name a variable it never reads.
        ApiError::Unauthorized(if parts.uri.path().starts_with("/v1/") {
            "missing Authorization header: give the Clef CLI \
             CLEF_TELEMETRY_HEADERS=\"Authorization=Bearer <api key>\" \
             (it does not read CLEF_TELEMETRY_TOKEN)"
                .into()
        } else {
            "missing Authorization: Bearer header".into()
        })
    })?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized("expected Authorization: Bearer <token>".into())),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let now = crate::now_ms();
        if token.starts_with(API_KEY_PREFIX) {
            let grant = state
                .store
                .api_key_by_hash(&hash_secret(token))
                .await?
                .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".into()))?;
            if let Some(limiter) = &state.limits.api_keys {
                limiter
                    .check(grant.key_id.as_str())
                    .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
            }
            if clef_store::last_use_is_stale(grant.last_used_at, now)
                && let Err(e) = state.store.touch_api_key(&grant.key_id, now).await
            {
                // Best effort: a busy database must not fail CI's request over a "last used" time.
                tracing::warn!(error = %e, "could not record API key use");
            }
            Ok(Self::ApiKey(grant))
        } else if token.starts_with(TOKEN_PREFIX) {
            state
                .store
                .authenticate_token(&hash_secret(token), now)
                .await?
                .map(Self::User)
                .ok_or_else(|| ApiError::Unauthorized("unknown or revoked access token".into()))
        } else {
            Err(ApiError::Unauthorized("unrecognised credential".into()))
        }
    }
}

/// CI endpoints: an API key is required.
pub struct CiKey(pub ApiKeyGrant);

impl FromRequestParts<AppState> for CiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::ApiKey(grant) => Ok(Self(grant)),
            Principal::User(_) => Err(ApiError::Unauthorized(
                "CI endpoints take an integration API key, not a personal access token".into(),
            )),
        }
    }
}

/// Management endpoints: a person is required.
pub struct Member(pub User);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::User(user) => Ok(Self(user)),
            Principal::ApiKey(_) => Err(ApiError::Unauthorized(
                "API keys work only on the CI endpoints; use a personal access token".into(),
            )),
        }
    }
}

impl Member {
    pub fn actor(&self) -> clef_store::Actor {
        self.0.actor(crate::now_ms())
    }

    pub fn require_manage(&self) -> Result<(), ApiError> {
        if self.0.role.can_manage() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("the {} role cannot change settings", self.0.role.as_str())))
        }
    }

    pub fn require_acknowledge(&self) -> Result<(), ApiError> {
        if self.0.role.can_acknowledge() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("the viewer role cannot acknowledge alerts".into()))
        }
    }
}

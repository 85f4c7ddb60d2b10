//! Single sign-on over OpenID Connect, with the `openidconnect` crate: discovery from the
//! issuer, the authorization code flow with PKCE, `state` and `nonce`, and the ID token checked
//! by the crate (signature against the issuer's JWKS, `iss`, `aud`, `exp`, `nonce`). Discovery
//! runs at each sign-in, so a rotated signing key is picked up at once.

use base64::Engine;
use clef_store::SsoConfig;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider could not be reached or described itself wrongly ({0})")]
    Discovery(String),
    #[error("the identity provider did not accept the sign-in ({0})")]
    Exchange(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("the identity provider gave no e-mail address")]
    NoEmail,
    #[error("the identity provider does not say that {0} is verified")]
    Unverified(String),
}

/// A sign-in sent to the issuer: where to send the browser, and what must come back.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the issuer says signed in.
pub struct Identity {
    pub email: String,
    /// The values of the organisation's role claim, if it has one.
    pub claim_values: Vec<String>,
}

fn http() -> Result<reqwest::Client, SsoError> {
    // No redirects: the issuer's endpoints are the ones it published.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SsoError::Discovery(e.to_string()))
}

/// A client as discovery describes it: the authorization endpoint known, the token and
/// user-info endpoints as the issuer published them.
type Discovered = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovers the issuer (its endpoints and signing keys) and makes the organisation's client.
async fn client(config: &SsoConfig, redirect: &str, http: &reqwest::Client) -> Result<Discovered, SsoError> {
    let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| SsoError::Discovery(e.to_string()))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| SsoError::Discovery(error_chain(&e)))?;
    let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| SsoError::Discovery(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub async fn start(config: &SsoConfig, redirect: &str, login_hint: &str) -> Result<Started, SsoError> {
    let http = http()?;
    let client = client(config, redirect, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", login_hint)
        .url();
    Ok(Started {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

pub async fn finish(
    config: &SsoConfig,
    redirect: &str,
    code: &str,
    pkce_verifier: &str,
    nonce: &str,
) -> Result<Identity, SsoError> {
    let http = http()?;
    let client = client(config, redirect, &http).await?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| SsoError::Exchange(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(&http)
        .await
        .map_err(|e| SsoError::Exchange(error_chain(&e)))?;
    let id_token = token.id_token().ok_or(SsoError::NoIdToken)?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(|e| SsoError::IdToken(error_chain(&e)))?;
    let email = claims.email().map(|e| e.as_str().trim().to_ascii_lowercase()).ok_or(SsoError::NoEmail)?;
    if claims.email_verified() != Some(true) {
        return Err(SsoError::Unverified(email));
    }
    let claim_values = match &config.role_claim {
        Some(name) => claim_values(&id_token.to_string(), name),
        None => Vec::new(),
    };
    Ok(Identity { email, claim_values })
}

/// A claim of an ID token the crate has verified, as strings: one value or an array of them.
/// (The crate's standard claims do not include the organisation's own, such as `groups`.)
fn claim_values(jwt: &str, name: &str) -> Vec<String> {
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Vec::new() };
    match claims.get(name) {
        Some(serde_json::Value::String(v)) => vec![v.clone()],
        Some(serde_json::Value::Array(vs)) => {
            vs.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_claim_is_one_value_or_many() {
        let jwt =
            |claims: &str| format!("h.{}.s", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(claim_values(&jwt(r#"{"groups":["a","b"]}"#), "groups"), ["a", "b"]);
        assert_eq!(claim_values(&jwt(r#"{"role":"admin"}"#), "role"), ["admin"]);
        assert!(claim_values(&jwt(r#"{"groups":7}"#), "groups").is_empty());
        assert!(claim_values("not-a-jwt", "groups").is_empty());
    }
}

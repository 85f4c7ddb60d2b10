//! Channel secrets at rest: webhook URLs, routing keys and signing secrets are sealed with
//! XChaCha20-Poly1305 under the server's key before they reach the database, and opened only
//! for the delivery worker. The database alone (a dump, a stolen file) reveals none of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Marks the format, so a later one can be told apart.
const PREFIX: &str = "v1:";
/// Binds every sealed value to its purpose: a value cannot be moved into another field type.
const AAD: &[u8] = b"clef-pro channel secret";

/// The server's 256-bit key for channel secrets.
#[derive(Clone)]
pub struct SecretKey(XChaCha20Poly1305, [u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a secret key is 32 bytes, written as 44 characters of base64")]
    Malformed,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        Self::from_bytes(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(&bytes.into()), bytes)
    }

    /// Reads a key written by [`SecretKey::to_text`] (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = B64.decode(text.trim()).map_err(|_| KeyError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as text, for its file.
    pub fn to_text(&self) -> String {
        B64.encode(self.1)
    }

    pub(crate) fn seal(&self, plaintext: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs over 256 GiB; a channel secret is a few hundred bytes.
        let sealed =
            self.0.encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: AAD }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// `None` when the value was sealed under another key, or is not a sealed value.
    pub(crate) fn open(&self, sealed: &str) -> Option<String> {
        let bytes = B64.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self.0.decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: AAD }).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// A signing secret and, once replaced, the time it stops signing.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct SigningSecret {
    pub secret: String,
    #[serde(default)]
    pub until: Option<clef_core::Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key() {
        let key = SecretKey::generate();
        let sealed = key.seal("https://hooks.slack.com/services/T0/B0/secret");
        assert!(!sealed.contains("hooks.slack.com"));
        assert_ne!(
            sealed,
            key.seal("https://hooks.slack.com/services/T0/B0/secret"),
            "fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).as_deref(), Some("https://hooks.slack.com/services/T0/B0/secret"));
        assert_eq!(SecretKey::generate().open(&sealed), None);
        let mut tampered = sealed.clone();
        tampered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert_eq!(key.open(&tampered), None);
        assert_eq!(key.open("plain text"), None);
    }

    #[test]
    fn keys_round_trip_as_text_and_bad_ones_are_refused() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&format!("{}\n", key.to_text())).expect("parses");
        assert_eq!(again.open(&key.seal("x")).as_deref(), Some("x"));
        assert_eq!(SecretKey::parse("c2hvcnQ=").err(), Some(KeyError::Malformed));
    }
}

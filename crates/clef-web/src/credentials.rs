//! Our own secrets: API keys and personal access tokens (random, stored as SHA-256) and
//! passwords (argon2id). The plain values exist only in the answer that creates them.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// CI's credential: one integration, CI endpoints only.
pub const API_KEY_PREFIX: &str = "clefk_";
/// A person's credential for the management API.
pub const TOKEN_PREFIX: &str = "clefp_";
/// Characters of a secret shown in listings, beside the fixed prefix.
const VISIBLE: usize = 6;

pub struct Minted {
    /// Shown once, never stored.
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// A new random secret: 40 alphanumerics (≈238 bits) behind `kind`.
pub fn mint(kind: &str) -> Minted {
    let secret = format!("{kind}{}", Alphanumeric.sample_string(&mut OsRng, 40));
    let prefix = secret[..kind.len() + VISIBLE].to_owned();
    let hash = hash_secret(&secret);
    Minted { secret, prefix, hash }
}

/// High-entropy secrets need no slow hash: SHA-256 makes a stolen table useless, and
/// lookups by hash keep comparison out of our code entirely.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Constant-time (argon2's own comparison). A malformed stored hash verifies nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A webhook signing secret as Standard Webhooks writes them: `whsec_` and 24 random bytes
/// in base64. Shown once; the store keeps it sealed (it must sign, so it cannot be hashed).
pub fn signing_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A random password for `user create` when none is given.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut OsRng, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_carry_their_kind_and_hash_stably() {
        let m = mint(API_KEY_PREFIX);
        assert!(m.secret.starts_with("clefk_") && m.secret.len() == 46);
        assert!(m.secret.starts_with(&m.prefix) && m.prefix.len() == 12);
        assert_eq!(hash_secret(&m.secret), m.hash);
        assert_ne!(mint(API_KEY_PREFIX).secret, m.secret);
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}

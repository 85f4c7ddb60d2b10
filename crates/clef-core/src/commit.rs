use serde::{Deserialize, Serialize};
use std::fmt;

/// A git commit hash: 40 (SHA-1) or 64 (SHA-256) hex digits, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok_len = raw.len() == 40 || raw.len() == 64;
        if ok_len && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err("must be a commit hash of 40 or 64 hexadecimal digits".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 7 digits, as git shows them.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

impl TryFrom<String> for CommitSha {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<CommitSha> for String {
    fn from(value: CommitSha) -> String {
        value.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sha1_and_sha256_and_lowercases() {
        let sha1 = "9F2C".repeat(10);
        assert_eq!(CommitSha::parse(&sha1).map(|c| c.0), Ok("9f2c".repeat(10)));
        assert!(CommitSha::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_other_lengths_and_non_hex() {
        for bad in ["", "abc", &"a".repeat(41), &"g".repeat(40), &"a".repeat(63)] {
            assert!(CommitSha::parse(bad).is_err(), "{bad}");
        }
    }
}

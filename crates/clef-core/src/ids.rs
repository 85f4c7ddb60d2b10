//! Identifiers, one type each: an organisation's id cannot be passed where an integration's is
//! expected. They are opaque strings on the wire and in the database (UUIDs when the store
//! makes them); the type only says whose id it is.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                Self(raw)
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                Self(raw.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )+};
}

ids! {
    /// An organisation: the tenant every other row belongs to.
    OrgId,
    /// A person who logs in.
    UserId,
    /// One repository's reports, alerts, keys and channels.
    IntegrationId,
    /// A CI credential of one integration.
    ApiKeyId,
    /// A person's API token.
    TokenId,
    /// A single-use link that brings someone into an organisation.
    InvitationId,
    /// One logged-in browser.
    SessionId,
    /// One stored report (one commit of one integration).
    ReportId,
    AlertId,
    /// Where notifications go.
    ChannelId,
    /// One outbox message and its delivery history.
    DeliveryId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_string_on_the_wire() {
        let id = IntegrationId::from("3f2a");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"3f2a\"");
        assert_eq!(serde_json::from_str::<IntegrationId>("\"3f2a\"").unwrap(), id);
        assert_eq!(id.to_string(), "3f2a");
        assert_eq!(id, "3f2a");
    }
}

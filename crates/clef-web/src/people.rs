//! What the members API and the dashboard share: who may change whom, inviting someone (the
//! link and its mail), minting a personal access token, and the checks on their fields.

use crate::credentials::{TOKEN_PREFIX, mint};
use crate::{AppState, now_ms};
use clef_core::{FieldError, Millis};
use clef_store::{Actor, Invitation, NewInvitation, NewToken, PersonalToken, Role, StoreError, User};

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;
const DAY: Millis = 86_400_000;
/// The secret in an invitation link.
const INVITATION_PREFIX: &str = "clefi_";
/// Longest a token may live, in days; `None` lives until revoked.
pub const TOKEN_DAYS: [Option<u32>; 5] = [Some(7), Some(30), Some(90), Some(365), None];

/// A person's e-mail address as we store it: a valid address, lower-case (people type theirs
/// in any case, and one person is one address).
pub fn email(path: &str, raw: &str) -> Result<String, FieldError> {
    clef_core::text::email(raw).map(|e| e.to_ascii_lowercase()).map_err(|m| FieldError::new(path, m))
}

pub fn role(path: &str, raw: &str) -> Result<Role, FieldError> {
    Role::parse(raw.trim()).map_err(|m| FieldError::new(path, m))
}

/// A new password: 8 to 1,024 characters (argon2 hashes any length; the cap bounds its work).
pub fn password(path: &str, raw: &str) -> Result<(), FieldError> {
    match raw.chars().count() {
        0..=7 => Err(FieldError::new(path, "must have at least 8 characters")),
        1025.. => Err(FieldError::new(path, "must have at most 1,024 characters")),
        _ => Ok(()),
    }
}

/// Why a change to someone's membership is refused, for a person to read.
pub fn may_change(who: &User, current: Option<Role>, new: Option<Role>) -> Result<(), String> {
    if who.role.may_change(current, new) {
        Ok(())
    } else if who.role.can_manage() {
        Err("Only an owner can make someone an owner or change an owner's membership.".into())
    } else {
        Err(format!("Your role ({}) cannot change who is a member.", who.role.as_str()))
    }
}

/// A sent invitation, with its link: shown to the inviter once (the mail may not arrive, or
/// the server may have no mail at all).
pub struct Invited {
    pub invitation: Invitation,
    pub link: String,
    /// The mail transport's answer, or why it failed.
    pub mail: Result<String, String>,
}

pub async fn invite(
    state: &AppState,
    actor: &Actor,
    email: String,
    role: Role,
) -> Result<Invited, StoreError> {
    let minted = mint(INVITATION_PREFIX);
    let new =
        NewInvitation { email, role, token_hash: minted.hash, expires_at: actor.now + INVITATION_DAYS * DAY };
    let invitation = state.store.create_invitation(actor, new).await?;
    let link = state.settings.link(&format!("/invitations/{}", minted.secret));
    let mail = match &state.mailer {
        Some(mailer) => {
            let subject =
                format!("{} invited you to {} on Clef Pro", invitation.invited_by, invitation.org_name);
            let text = format!(
                "{} invited you to join the organisation {} on Clef Pro as {}.\n\n\
                 Accept within {INVITATION_DAYS} days:\n{link}\n\n\
                 If you did not expect this, ignore this message: nothing happens until the link is opened.\n",
                invitation.invited_by,
                invitation.org_name,
                invitation.role.as_str(),
            );
            mailer.send_plain(&invitation.email, &subject, &text).await
        }
        None => Err("this server sends no mail".into()),
    };
    if let Err(why) = &mail {
        tracing::warn!(error = %why, "the invitation mail was not sent; the inviter has the link");
    }
    Ok(Invited { invitation, link, mail })
}

/// A token's expiry from a number of days (1 to 365); `None` lives until revoked.
pub fn token_expiry(path: &str, days: Option<u32>, now: Millis) -> Result<Option<Millis>, FieldError> {
    match days {
        None => Ok(None),
        Some(d @ 1..=365) => Ok(Some(now + Millis::from(d) * DAY)),
        Some(_) => Err(FieldError::new(path, "must be between 1 and 365 days, or absent for no expiry")),
    }
}

/// A token name: what the person will recognise it by.
pub fn token_name(path: &str, raw: &str) -> Result<String, FieldError> {
    clef_core::text::display_name(raw).map_err(|m| FieldError::new(path, m))
}

/// A new personal access token of `user` in their current organisation: the record and the
/// secret, shown once.
pub async fn mint_token(
    store: &dyn clef_store::Store,
    user: &User,
    name: String,
    expires_at: Option<Millis>,
) -> Result<(PersonalToken, String), StoreError> {
    let minted = mint(TOKEN_PREFIX);
    let now = now_ms();
    let new = NewToken {
        user_id: user.id.clone(),
        org_id: user.org_id.clone(),
        name,
        prefix: minted.prefix,
        token_hash: minted.hash,
        now,
        expires_at,
    };
    let token = store.create_token(&user.actor(now), new).await?;
    Ok((token, minted.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked_and_lower_cased() {
        assert_eq!(email("email", " Ada@Acme.Example ").ok().as_deref(), Some("ada@acme.example"));
        for bad in ["", "ada", "@acme.example", "ada@", "a b@acme.example", "a@b@c.example"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn owners_change_anyone_admins_anyone_but_owners_and_the_rest_no_one() {
        use Role::*;
        for current in [None, Some(Owner), Some(Admin), Some(Member), Some(Viewer)] {
            for new in [None, Some(Owner), Some(Admin), Some(Member), Some(Viewer)] {
                assert!(Owner.may_change(current, new));
                let touches_owner = current == Some(Owner) || new == Some(Owner);
                assert_eq!(Admin.may_change(current, new), !touches_owner, "{current:?} → {new:?}");
                assert!(!Member.may_change(current, new) && !Viewer.may_change(current, new));
            }
        }
    }

    #[test]
    fn token_lifetimes_are_bounded() {
        assert_eq!(token_expiry("e", None, 0).ok(), Some(None));
        assert_eq!(token_expiry("e", Some(30), 0).ok(), Some(Some(30 * DAY)));
        assert!(token_expiry("e", Some(0), 0).is_err() && token_expiry("e", Some(366), 0).is_err());
    }
}

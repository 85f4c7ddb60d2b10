//! People: their memberships of organisations, invitations, sessions and personal access
//! tokens. A person is a `users` row; what they may do in an organisation is the role of their
//! `memberships` row there, so every credential is checked against a current membership.

use crate::{R, SqlStore, audit, found, map_err, new_id, rows};
use clef_core::Millis;
use clef_core::ids::*;
use clef_store::*;
use sqlx::{Any, Transaction};

/// Sessions and people record activity at most once a minute, like keys and tokens.
fn stale(last: Millis, now: Millis) -> bool {
    last_use_is_stale(Some(last), now)
}

/// Takes the organisation's row lock: membership changes of one organisation are serialised
/// (on PostgreSQL across replicas too), so two admins demoting two owners at once cannot
/// leave none.
async fn lock_organization(tx: &mut Transaction<'_, Any>, org_id: &OrgId) -> R<()> {
    let done = sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
        .bind(org_id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    found(&done)
}

/// The member's role and e-mail in the organisation, read inside the lock.
async fn membership_in(tx: &mut Transaction<'_, Any>, org_id: &OrgId, user_id: &UserId) -> R<(Role, String)> {
    let row = sqlx::query(
        "SELECT m.role, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org_id.as_str())
    .bind(user_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)?;
    let role = rows::role(&row, "role")?;
    Ok((role, rows::get(&row, "email")?))
}

/// Refuses to leave the organisation without an owner.
async fn keep_an_owner(tx: &mut Transaction<'_, Any>, org_id: &OrgId) -> R<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org_id.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(map_err)?;
    if owners == 0 {
        return Err(StoreError::Refused(
            "An organisation keeps at least one owner: make someone else an owner first.".into(),
        ));
    }
    Ok(())
}

/// A new person; `None` for one who signs in through single sign-on only.
pub(crate) async fn add_person(
    tx: &mut Transaction<'_, Any>,
    email: &str,
    password_hash: Option<&str>,
    now: Millis,
) -> R<UserId> {
    let id: UserId = new_id();
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id.as_str())
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(id)
}

/// The person with this e-mail, if there is one.
pub(crate) async fn person_by_email(tx: &mut Transaction<'_, Any>, email: &str) -> R<Option<UserId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(id.map(UserId::from))
}

/// Makes the person a member; one who is already is a `Conflict`.
pub(crate) async fn add_membership(
    tx: &mut Transaction<'_, Any>,
    org_id: &OrgId,
    user_id: &UserId,
    role: Role,
    now: Millis,
) -> R<()> {
    sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(org_id.as_str())
        .bind(user_id.as_str())
        .bind(role.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

fn invitation(r: &sqlx::any::AnyRow) -> R<Invitation> {
    Ok(Invitation {
        id: rows::id(r, "id")?,
        org_id: rows::id(r, "org_id")?,
        org_name: rows::get(r, "org_name")?,
        email: rows::get(r, "email")?,
        role: rows::role(r, "role")?,
        invited_by: rows::get(r, "invited_by")?,
        created_at: rows::get(r, "created_at")?,
        expires_at: rows::get(r, "expires_at")?,
        accepted_at: rows::get(r, "accepted_at")?,
        revoked_at: rows::get(r, "revoked_at")?,
    })
}

const INVITATION: &str = "SELECT v.id, v.org_id, o.name AS org_name, v.email, v.role, v.invited_by, v.created_at, \
     v.expires_at, v.accepted_at, v.revoked_at FROM invitations v JOIN organizations o ON o.id = v.org_id";

fn token(r: &sqlx::any::AnyRow) -> R<PersonalToken> {
    Ok(PersonalToken {
        id: rows::id(r, "id")?,
        user_id: rows::id(r, "user_id")?,
        name: rows::get(r, "name")?,
        prefix: rows::get(r, "prefix")?,
        created_at: rows::get(r, "created_at")?,
        expires_at: rows::get(r, "expires_at")?,
        last_used_at: rows::get(r, "last_used_at")?,
        revoked_at: rows::get(r, "revoked_at")?,
    })
}

impl SqlStore {
    pub(crate) async fn create_user_impl(&self, new: NewUser) -> R<User> {
        let mut tx = self.begin().await?;
        // Two replicas may create the same organisation at once: the unique name decides.
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(new_id::<String>())
            .bind(&new.org_name)
            .bind(new.now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let org_id: OrgId = sqlx::query_scalar::<_, String>("SELECT id FROM organizations WHERE name = $1")
            .bind(&new.org_name)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?
            .into();
        sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING")
            .bind(new_id::<String>())
            .bind(&new.email)
            .bind(&new.password_hash)
            .bind(new.now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Made just now, or an existing person who joins with the role and keeps their password.
        let id = person_by_email(&mut tx, &new.email).await?.ok_or(StoreError::NotFound)?;
        add_membership(&mut tx, &org_id, &id, new.role, new.now).await?;
        let actor =
            Actor { org_id: org_id.clone(), user_id: id.clone(), email: new.email.clone(), now: new.now };
        audit(&mut tx, &actor, "user.create", &format!("user {} ({})", new.email, new.role.as_str())).await?;
        let user = member_in(&mut tx, &id, &org_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    pub(crate) async fn user_by_email_impl(&self, email: &str) -> R<Option<User>> {
        sqlx::query(&format!(
            "SELECT {} FROM {} WHERE u.email = $1 ORDER BY m.created_at, m.org_id LIMIT 1",
            rows::USER,
            rows::USER_FROM
        ))
        .bind(email)
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        .map(|r| rows::user(&r))
        .transpose()
    }

    pub(crate) async fn member_impl(&self, user_id: &UserId, org_id: &OrgId) -> R<Option<User>> {
        let mut conn = self.read.acquire().await.map_err(map_err)?;
        member_on(&mut conn, user_id, org_id).await
    }

    pub(crate) async fn memberships_impl(&self, user_id: &UserId) -> R<Vec<Membership>> {
        sqlx::query(
            "SELECT m.org_id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(user_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| {
            Ok(Membership {
                org_id: rows::id(r, "org_id")?,
                org_name: rows::get(r, "name")?,
                role: rows::role(r, "role")?,
            })
        })
        .collect()
    }

    pub(crate) async fn members_impl(&self, org_id: &OrgId) -> R<Vec<Member>> {
        sqlx::query(
            "SELECT u.id, u.email, m.role, m.created_at, u.last_active_at, u.password_hash IS NOT NULL AS has_password \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email",
        )
        .bind(org_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| {
            Ok(Member {
                user_id: rows::id(r, "id")?,
                email: rows::get(r, "email")?,
                role: rows::role(r, "role")?,
                joined_at: rows::get(r, "created_at")?,
                last_active_at: rows::get(r, "last_active_at")?,
                has_password: rows::flag(r, "has_password")?,
            })
        })
        .collect()
    }

    pub(crate) async fn set_role_impl(&self, actor: &Actor, user_id: &UserId, role: Role) -> R<()> {
        let mut tx = self.begin().await?;
        lock_organization(&mut tx, &actor.org_id).await?;
        let (was, email) = membership_in(&mut tx, &actor.org_id, user_id).await?;
        if was == role {
            return Ok(());
        }
        sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(actor.org_id.as_str())
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        keep_an_owner(&mut tx, &actor.org_id).await?;
        audit(&mut tx, actor, "member.role", &format!("{email}: {} → {}", was.as_str(), role.as_str()))
            .await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn remove_member_impl(&self, actor: &Actor, user_id: &UserId) -> R<()> {
        let mut tx = self.begin().await?;
        lock_organization(&mut tx, &actor.org_id).await?;
        let (role, email) = membership_in(&mut tx, &actor.org_id, user_id).await?;
        for statement in [
            "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
            "DELETE FROM sessions WHERE org_id = $1 AND user_id = $2",
        ] {
            sqlx::query(statement)
                .bind(actor.org_id.as_str())
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(
            "UPDATE personal_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(actor.now)
        .bind(actor.org_id.as_str())
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        keep_an_owner(&mut tx, &actor.org_id).await?;
        audit(&mut tx, actor, "member.remove", &format!("{email} ({})", role.as_str())).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn change_password_impl(&self, actor: &Actor, hash: &str, keep: &SessionId) -> R<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(actor.user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        found(&done)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(actor.user_id.as_str())
            .bind(keep.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit(&mut tx, actor, "password.change", &format!("{}: other sessions ended", actor.email)).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn create_token_impl(&self, actor: &Actor, t: NewToken) -> R<PersonalToken> {
        let id: TokenId = new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO personal_tokens (id, user_id, org_id, name, prefix, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(t.user_id.as_str())
        .bind(t.org_id.as_str())
        .bind(&t.name)
        .bind(&t.prefix)
        .bind(&t.token_hash)
        .bind(t.now)
        .bind(t.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit(&mut tx, actor, "token.create", &format!("{} ({}…)", t.name, t.prefix)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(PersonalToken {
            id,
            user_id: t.user_id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.now,
            expires_at: t.expires_at,
            last_used_at: None,
            revoked_at: None,
        })
    }

    pub(crate) async fn authenticate_token_impl(&self, token_hash: &str, now: Millis) -> R<Option<User>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {}, t.id AS token_id, t.last_used_at FROM personal_tokens t \
             JOIN users u ON u.id = t.user_id \
             JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id \
             JOIN organizations o ON o.id = m.org_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)",
            rows::USER
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let user = rows::user(&row)?;
        let last_used: Option<Millis> = rows::get(&row, "last_used_at")?;
        if last_use_is_stale(last_used, now) {
            let token_id: String = rows::get(&row, "token_id")?;
            self.touch("UPDATE personal_tokens SET last_used_at = $1 WHERE id = $2", &token_id, now).await?;
            self.touch("UPDATE users SET last_active_at = $1 WHERE id = $2", user.id.as_str(), now).await?;
        }
        Ok(Some(user))
    }

    async fn touch(&self, statement: &str, id: &str, now: Millis) -> R<()> {
        sqlx::query(statement).bind(now).bind(id).execute(&self.write).await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn revoke_token_impl(&self, actor: &Actor, token_id: &TokenId) -> R<()> {
        let mut tx = self.begin().await?;
        let name: String = sqlx::query_scalar(
            "UPDATE personal_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND org_id = $4 \
             AND revoked_at IS NULL RETURNING name",
        )
        .bind(actor.now)
        .bind(token_id.as_str())
        .bind(actor.user_id.as_str())
        .bind(actor.org_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        audit(&mut tx, actor, "token.revoke", &name).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn tokens_impl(&self, user_id: &UserId, org_id: &OrgId) -> R<Vec<PersonalToken>> {
        sqlx::query(
            "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at FROM personal_tokens \
             WHERE user_id = $1 AND org_id = $2 ORDER BY created_at DESC, id",
        )
        .bind(user_id.as_str())
        .bind(org_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(token)
        .collect()
    }

    pub(crate) async fn create_invitation_impl(&self, actor: &Actor, new: NewInvitation) -> R<Invitation> {
        let mut tx = self.begin().await?;
        lock_organization(&mut tx, &actor.org_id).await?;
        let member: Option<String> = sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.org_id = $1 AND u.email = $2",
        )
        .bind(actor.org_id.as_str())
        .bind(&new.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if member.is_some() {
            return Err(StoreError::Conflict(format!("{} is a member already", new.email)));
        }
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT id FROM invitations WHERE org_id = $1 AND email = $2 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(actor.org_id.as_str())
        .bind(&new.email)
        .bind(actor.now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if pending.is_some() {
            return Err(StoreError::Conflict(format!(
                "{} has a pending invitation already: revoke it to send a new one",
                new.email
            )));
        }
        let id: InvitationId = new_id();
        sqlx::query(
            "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(actor.org_id.as_str())
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(&new.token_hash)
        .bind(&actor.email)
        .bind(actor.now)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit(&mut tx, actor, "invitation.create", &format!("{} as {}", new.email, new.role.as_str()))
            .await?;
        let created = sqlx::query(&format!("{INVITATION} WHERE v.id = $1"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        invitation(&created)
    }

    pub(crate) async fn invitations_impl(&self, org_id: &OrgId) -> R<Vec<Invitation>> {
        sqlx::query(&format!(
            "{INVITATION} WHERE v.org_id = $1 AND v.accepted_at IS NULL AND v.revoked_at IS NULL \
             ORDER BY v.created_at DESC, v.id"
        ))
        .bind(org_id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(invitation)
        .collect()
    }

    pub(crate) async fn revoke_invitation_impl(&self, actor: &Actor, id: &InvitationId) -> R<()> {
        let mut tx = self.begin().await?;
        let email: String = sqlx::query_scalar(
            "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND org_id = $3 \
             AND accepted_at IS NULL AND revoked_at IS NULL RETURNING email",
        )
        .bind(actor.now)
        .bind(id.as_str())
        .bind(actor.org_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        audit(&mut tx, actor, "invitation.revoke", &email).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn invitation_impl(&self, token_hash: &str) -> R<Option<Invitation>> {
        sqlx::query(&format!("{INVITATION} WHERE v.token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)?
            .map(|r| invitation(&r))
            .transpose()
    }

    pub(crate) async fn accept_invitation_impl(
        &self,
        token_hash: &str,
        who: Acceptance,
        now: Millis,
    ) -> R<User> {
        let mut tx = self.begin().await?;
        let invite = sqlx::query(&format!("{INVITATION} WHERE v.token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let invite = invitation(&invite)?;
        match invite.state(now) {
            InvitationState::Pending => {}
            InvitationState::Accepted => {
                return Err(StoreError::Refused("This invitation was used already.".into()));
            }
            InvitationState::Revoked => {
                return Err(StoreError::Refused("This invitation was revoked.".into()));
            }
            InvitationState::Expired => {
                return Err(StoreError::Refused("This invitation has expired: ask for a new one.".into()));
            }
        }
        // Marked first: of two acceptances racing, the second changes nothing and stops here.
        let done =
            sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL")
                .bind(now)
                .bind(invite.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Refused("This invitation was used already.".into()));
        }
        let user_id: UserId = match who {
            Acceptance::NewPerson { password_hash } => {
                if person_by_email(&mut tx, &invite.email).await?.is_some() {
                    return Err(StoreError::Refused(
                        "You have an account already: log in with it to accept.".into(),
                    ));
                }
                add_person(&mut tx, &invite.email, Some(&password_hash), now).await?
            }
            Acceptance::SingleSignOn => match person_by_email(&mut tx, &invite.email).await? {
                Some(id) => id,
                None => add_person(&mut tx, &invite.email, None, now).await?,
            },
            Acceptance::Existing(id) => {
                let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                if email.as_deref() != Some(invite.email.as_str()) {
                    return Err(StoreError::Refused(format!("This invitation is for {}.", invite.email)));
                }
                id
            }
        };
        add_membership(&mut tx, &invite.org_id, &user_id, invite.role, now).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Refused("You are a member already.".into()),
            other => other,
        })?;
        let actor = Actor {
            org_id: invite.org_id.clone(),
            user_id: user_id.clone(),
            email: invite.email.clone(),
            now,
        };
        audit(
            &mut tx,
            &actor,
            "invitation.accept",
            &format!("{} as {}, invited by {}", invite.email, invite.role.as_str(), invite.invited_by),
        )
        .await?;
        let user = member_in(&mut tx, &user_id, &invite.org_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    pub(crate) async fn create_session_impl(&self, s: NewSession) -> R<SessionId> {
        let mut tx = self.begin().await?;
        // Expired sessions are swept whenever someone logs in: no background job needed.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let id: SessionId = new_id();
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, org_id, csrf_token, user_agent, auth_method, \
               created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(id.as_str())
        .bind(&s.token_hash)
        .bind(s.user_id.as_str())
        .bind(s.org_id.as_str())
        .bind(&s.csrf_token)
        .bind(&s.user_agent)
        .bind(s.auth_method.as_str())
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("UPDATE users SET last_active_at = $1 WHERE id = $2")
            .bind(s.created_at)
            .bind(s.user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(id)
    }

    pub(crate) async fn session_impl(&self, token_hash: &str, now: Millis) -> R<Option<Session>> {
        let Some(r) = sqlx::query(&format!(
            "SELECT {}, s.id AS session_id, s.csrf_token, s.expires_at, s.last_seen_at, s.auth_method, \
               (SELECT COUNT(*) FROM memberships x WHERE x.user_id = s.user_id) AS organizations FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN memberships m ON m.user_id = s.user_id AND m.org_id = s.org_id \
             JOIN organizations o ON o.id = m.org_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            rows::USER
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let session = Session {
            id: rows::id(&r, "session_id")?,
            user: rows::user(&r)?,
            auth_method: AuthMethod::parse(&rows::get::<String>(&r, "auth_method")?)
                .map_err(|e| StoreError::Other(e.into()))?,
            organizations: u32::try_from(rows::get::<i64>(&r, "organizations")?).unwrap_or(u32::MAX),
            csrf_token: rows::get(&r, "csrf_token")?,
            expires_at: rows::get(&r, "expires_at")?,
        };
        if stale(rows::get(&r, "last_seen_at")?, now) {
            self.touch("UPDATE sessions SET last_seen_at = $1 WHERE id = $2", session.id.as_str(), now)
                .await?;
            self.touch("UPDATE users SET last_active_at = $1 WHERE id = $2", session.user.id.as_str(), now)
                .await?;
        }
        Ok(Some(session))
    }

    pub(crate) async fn delete_session_impl(&self, token_hash: &str) -> R<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn switch_organization_impl(
        &self,
        session: &SessionId,
        user_id: &UserId,
        org_id: &OrgId,
    ) -> R<()> {
        let done = sqlx::query(
            "UPDATE sessions SET org_id = $1 WHERE id = $2 AND user_id = $3 \
             AND EXISTS (SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $3)",
        )
        .bind(org_id.as_str())
        .bind(session.as_str())
        .bind(user_id.as_str())
        .execute(&self.write)
        .await
        .map_err(map_err)?;
        found(&done)
    }

    pub(crate) async fn sessions_impl(&self, user_id: &UserId, now: Millis) -> R<Vec<SessionInfo>> {
        sqlx::query(
            "SELECT s.id, o.name, s.user_agent, s.created_at, s.last_seen_at, s.expires_at FROM sessions s \
             JOIN organizations o ON o.id = s.org_id WHERE s.user_id = $1 AND s.expires_at > $2 \
             ORDER BY s.created_at DESC, s.id",
        )
        .bind(user_id.as_str())
        .bind(now)
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| {
            Ok(SessionInfo {
                id: rows::id(r, "id")?,
                org_name: rows::get(r, "name")?,
                user_agent: rows::get(r, "user_agent")?,
                created_at: rows::get(r, "created_at")?,
                last_seen_at: rows::get(r, "last_seen_at")?,
                expires_at: rows::get(r, "expires_at")?,
            })
        })
        .collect()
    }

    pub(crate) async fn end_session_impl(&self, actor: &Actor, session: &SessionId) -> R<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(session.as_str())
            .bind(actor.user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        found(&done)?;
        audit(&mut tx, actor, "session.end", &actor.email).await?;
        tx.commit().await.map_err(map_err)
    }
}

/// The person as a member of the organisation, inside a transaction.
pub(crate) async fn member_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    org_id: &OrgId,
) -> R<Option<User>> {
    member_on(tx, user_id, org_id).await
}

async fn member_on(conn: &mut sqlx::AnyConnection, user_id: &UserId, org_id: &OrgId) -> R<Option<User>> {
    sqlx::query(&format!("SELECT {} FROM {} WHERE u.id = $1 AND m.org_id = $2", rows::USER, rows::USER_FROM))
        .bind(user_id.as_str())
        .bind(org_id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(map_err)?
        .map(|r| rows::user(&r))
        .transpose()
}

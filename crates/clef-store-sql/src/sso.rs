//! Single sign-on: each organisation's OpenID Connect settings (the client secret sealed), the
//! sign-ins under way (single use), and just-in-time membership.

use crate::{R, SqlStore, audit, map_err, rows};
use clef_core::Millis;
use clef_core::ids::*;
use clef_store::decode;
use clef_store::*;
use std::collections::BTreeMap;

const CONFIG: &str = "SELECT c.org_id, o.name AS org_name, c.issuer, c.client_id, c.client_secret, \
     c.allowed_domains, c.default_role, c.role_claim, c.role_map, c.sso_only, c.break_glass \
     FROM sso_configs c JOIN organizations o ON o.id = c.org_id";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored single sign-on {what} does not parse: {e}").into())
}

impl SqlStore {
    fn sso_row(&self, r: &sqlx::any::AnyRow) -> R<SsoConfig> {
        let role_map: BTreeMap<String, String> =
            serde_json::from_str(&rows::get::<String>(r, "role_map")?).map_err(|e| corrupt("role map", e))?;
        Ok(SsoConfig {
            org_id: rows::id(r, "org_id")?,
            org_name: rows::get(r, "org_name")?,
            issuer: rows::get(r, "issuer")?,
            client_id: rows::get(r, "client_id")?,
            client_secret: self
                .open_secret(&rows::get::<String>(r, "client_secret")?)
                .map_err(|e| corrupt("client secret", e))?,
            allowed_domains: serde_json::from_str(&rows::get::<String>(r, "allowed_domains")?)
                .map_err(|e| corrupt("domains", e))?,
            default_role: rows::role(r, "default_role")?,
            role_claim: rows::get(r, "role_claim")?,
            role_map: role_map.into_iter().map(|(k, v)| Ok((k, decode::role(&v)?))).collect::<R<_>>()?,
            sso_only: rows::flag(r, "sso_only")?,
            break_glass: rows::get::<Option<String>>(r, "break_glass")?.map(UserId::from),
        })
    }

    pub(crate) async fn sso_config_impl(&self, org_id: &OrgId) -> R<Option<SsoConfig>> {
        let row = sqlx::query(&format!("{CONFIG} WHERE c.org_id = $1"))
            .bind(org_id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)?;
        row.map(|r| self.sso_row(&r)).transpose()
    }

    pub(crate) async fn sso_config_for_email_impl(&self, email: &str) -> R<Option<SsoConfig>> {
        // Few organisations configure SSO: read them all, match the domain here.
        let rows =
            sqlx::query(&format!("{CONFIG} ORDER BY o.name")).fetch_all(&self.read).await.map_err(map_err)?;
        for r in rows {
            let config = self.sso_row(&r)?;
            if config.admits(email) {
                return Ok(Some(config));
            }
        }
        Ok(None)
    }

    pub(crate) async fn set_sso_config_impl(&self, actor: &Actor, s: SsoSettings) -> R<()> {
        let mut tx = self.begin().await?;
        if s.sso_only {
            let owner = match &s.break_glass {
                Some(id) => sqlx::query_scalar::<_, String>(
                    "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
                )
                .bind(actor.org_id.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .is_some_and(|role| role == Role::Owner.as_str()),
                None => false,
            };
            if !owner {
                return Err(StoreError::Refused(
                    "Single sign-on only needs a break-glass owner who can still log in with a password."
                        .into(),
                ));
            }
        }
        let secret = match &s.client_secret {
            Some(plain) => self.seal(plain)?,
            None => sqlx::query_scalar("SELECT client_secret FROM sso_configs WHERE org_id = $1")
                .bind(actor.org_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .ok_or_else(|| {
                    StoreError::Refused("Give the client secret the issuer registered for Clef Pro.".into())
                })?,
        };
        let role_map: BTreeMap<&str, &str> =
            s.role_map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let role_map = serde_json::to_string(&role_map).map_err(StoreError::other)?;
        let domains = serde_json::to_string(&s.allowed_domains).map_err(StoreError::other)?;
        sqlx::query(
            "INSERT INTO sso_configs (org_id, issuer, client_id, client_secret, allowed_domains, default_role, \
               role_claim, role_map, sso_only, break_glass, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, \
               client_secret = excluded.client_secret, allowed_domains = excluded.allowed_domains, \
               default_role = excluded.default_role, role_claim = excluded.role_claim, role_map = excluded.role_map, \
               sso_only = excluded.sso_only, break_glass = excluded.break_glass, updated_at = excluded.updated_at",
        )
        .bind(actor.org_id.as_str())
        .bind(&s.issuer)
        .bind(&s.client_id)
        .bind(&secret)
        .bind(domains)
        .bind(s.default_role.as_str())
        .bind(&s.role_claim)
        .bind(role_map)
        .bind(s.sso_only)
        .bind(s.break_glass.as_ref().map(UserId::as_str))
        .bind(actor.now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let target = format!(
            "issuer {}, client {}, domains {}, {}{}",
            s.issuer,
            s.client_id,
            s.allowed_domains.join(" "),
            if s.sso_only { "SSO only" } else { "passwords allowed" },
            if s.client_secret.is_some() { ", new client secret" } else { "" }
        );
        audit(&mut tx, actor, "sso.update", &target).await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn delete_sso_config_impl(&self, actor: &Actor) -> R<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM sso_configs WHERE org_id = $1")
            .bind(actor.org_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        crate::found(&done)?;
        audit(&mut tx, actor, "sso.delete", "single sign-on turned off").await?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn begin_sso_login_impl(&self, l: SsoLogin, now: Millis) -> R<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sso_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO sso_logins (state_hash, org_id, nonce, pkce_verifier, login_hint, invitation, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&l.state_hash)
        .bind(l.org_id.as_str())
        .bind(&l.nonce)
        .bind(&l.pkce_verifier)
        .bind(&l.login_hint)
        .bind(&l.invitation_hash)
        .bind(l.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn take_sso_login_impl(&self, state_hash: &str, now: Millis) -> R<Option<SsoLogin>> {
        // Deleted as it is read: a replayed state finds nothing.
        let row = sqlx::query(
            "DELETE FROM sso_logins WHERE state_hash = $1 \
             RETURNING state_hash, org_id, nonce, pkce_verifier, login_hint, invitation, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.write)
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(None) };
        let login = SsoLogin {
            state_hash: rows::get(&r, "state_hash")?,
            org_id: rows::id(&r, "org_id")?,
            nonce: rows::get(&r, "nonce")?,
            pkce_verifier: rows::get(&r, "pkce_verifier")?,
            login_hint: rows::get(&r, "login_hint")?,
            invitation_hash: rows::get(&r, "invitation")?,
            expires_at: rows::get(&r, "expires_at")?,
        };
        Ok((login.expires_at > now).then_some(login))
    }

    pub(crate) async fn sso_member_impl(
        &self,
        org_id: &OrgId,
        email: &str,
        join_as: Option<Role>,
        now: Millis,
    ) -> R<User> {
        let mut tx = self.begin().await?;
        let person = crate::people::person_by_email(&mut tx, email).await?;
        if let Some(id) = &person
            && let Some(user) = crate::people::member_in(&mut tx, id, org_id).await?
        {
            return Ok(user);
        }
        let Some(role) = join_as else {
            return Err(StoreError::Refused(format!(
                "{email} is not a member of this organisation, and its domain may not join by itself: ask an owner for an invitation."
            )));
        };
        let id = match person {
            Some(id) => id,
            None => crate::people::add_person(&mut tx, email, None, now).await?,
        };
        crate::people::add_membership(&mut tx, org_id, &id, role, now).await?;
        let actor = Actor { org_id: org_id.clone(), user_id: id.clone(), email: email.to_owned(), now };
        audit(&mut tx, &actor, "sso.join", &format!("{email} as {}", role.as_str())).await?;
        let user = crate::people::member_in(&mut tx, &id, org_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }
}

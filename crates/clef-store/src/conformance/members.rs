//! Members, invitations, sessions and tokens of people who belong to several organisations.

use super::*;
use crate::{Acceptance, InvitationState, NewInvitation, NewSession, NewToken, StoreError};

fn person(org: &str, email: &str, role: Role) -> NewUser {
    NewUser { org_name: org.into(), email: email.into(), password_hash: "h".into(), role, now: NOW }
}

fn session(user: &User, hash: &str) -> NewSession {
    NewSession {
        token_hash: hash.into(),
        user_id: user.id.clone(),
        org_id: user.org_id.clone(),
        csrf_token: "csrf".into(),
        user_agent: "Chromium".into(),
        auth_method: crate::AuthMethod::Password,
        created_at: NOW,
        expires_at: NOW + 1_000_000,
    }
}

fn token(user: &User, hash: &str) -> NewToken {
    NewToken {
        user_id: user.id.clone(),
        org_id: user.org_id.clone(),
        name: hash.into(),
        prefix: "clefp_x".into(),
        token_hash: hash.into(),
        now: NOW,
        expires_at: None,
    }
}

fn invite(email: &str, role: Role, hash: &str, expires_at: Millis) -> NewInvitation {
    NewInvitation { email: email.into(), role, token_hash: hash.into(), expires_at }
}

fn refused<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
    match r {
        Err(StoreError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

use clef_core::Millis;

pub async fn roles_change_and_the_last_owner_stays(store: &dyn Store) {
    let w = world(store, "acme").await;
    let ada = store.create_user(person("acme", "ada@acme.example", Role::Admin)).await.expect("ada");
    let members = store.members(&w.actor.org_id).await.expect("members");
    let listed: Vec<(&str, Role)> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
    assert_eq!(listed, [("ada@acme.example", Role::Admin), ("owner@acme.example", Role::Owner)]);
    assert!(members.iter().all(|m| m.has_password));

    store.set_role(&w.actor, &ada.id, Role::Viewer).await.expect("demote ada");
    assert_eq!(
        store.member(&ada.id, &w.actor.org_id).await.expect("read").map(|u| u.role),
        Some(Role::Viewer)
    );
    // The only owner can neither step down nor leave.
    assert!(refused(store.set_role(&w.actor, &w.user.id, Role::Admin).await).contains("owner"));
    refused(store.remove_member(&w.actor, &w.user.id).await);
    // With a second owner, the first may go.
    store.set_role(&w.actor, &ada.id, Role::Owner).await.expect("promote ada");
    store.set_role(&w.actor, &w.user.id, Role::Member).await.expect("step down");
    let members = store.members(&w.actor.org_id).await.expect("members");
    assert_eq!(members.iter().filter(|m| m.role == Role::Owner).count(), 1);

    // Another organisation's member is not found here.
    let foreign = world(store, "globex").await;
    assert!(is_not_found(store.set_role(&w.actor, &foreign.user.id, Role::Viewer).await));
    assert!(is_not_found(store.remove_member(&w.actor, &foreign.user.id).await));
    assert!(is_not_found(store.set_role(&foreign.actor, &ada.id, Role::Viewer).await));
    let log = actions(store, &w.actor.org_id).await;
    assert_eq!(log.iter().filter(|a| *a == "member.role").count(), 3, "{log:?}");
}

pub async fn a_removed_member_loses_that_organisation_at_once_and_keeps_the_others(store: &dyn Store) {
    let acme = world(store, "acme").await;
    let globex = world(store, "globex").await;
    let here = store.create_user(person("acme", "sam@example.org", Role::Member)).await.expect("sam");
    let there = store.create_user(person("globex", "sam@example.org", Role::Admin)).await.expect("sam");
    assert_eq!(here.id, there.id, "one person, two memberships");
    let names: Vec<String> =
        store.memberships(&here.id).await.expect("memberships").into_iter().map(|m| m.org_name).collect();
    assert_eq!(names, ["acme", "globex"]);
    store.create_session(session(&here, "s-acme")).await.expect("session");
    store.create_session(session(&there, "s-globex")).await.expect("session");
    store.create_token(&here.actor(NOW), token(&here, "t-acme")).await.expect("token");
    store.create_token(&there.actor(NOW), token(&there, "t-globex")).await.expect("token");
    assert_eq!(store.session("s-acme", NOW).await.expect("read").map(|s| s.user.role), Some(Role::Member));

    store.remove_member(&acme.actor, &here.id).await.expect("remove");
    assert!(store.session("s-acme", NOW + 1).await.expect("read").is_none(), "the session ends");
    assert!(store.authenticate_token("t-acme", NOW + 1).await.expect("read").is_none(), "the token dies");
    assert!(store.tokens(&here.id, &acme.actor.org_id).await.expect("tokens")[0].revoked_at.is_some());
    let kept = store.session("s-globex", NOW + 1).await.expect("read").expect("the other session");
    assert_eq!((kept.user.org_name.as_str(), kept.user.role), ("globex", Role::Admin));
    assert!(store.authenticate_token("t-globex", NOW + 1).await.expect("read").is_some());
    let names: Vec<String> =
        store.memberships(&here.id).await.expect("memberships").into_iter().map(|m| m.org_name).collect();
    assert_eq!(names, ["globex"]);
    assert!(is_not_found(store.remove_member(&acme.actor, &here.id).await), "gone already");
    assert!(actions(store, &acme.actor.org_id).await.contains(&"member.remove".to_owned()));
    assert!(!actions(store, &globex.actor.org_id).await.contains(&"member.remove".to_owned()));
}

pub async fn invitations_are_single_use_expire_and_can_be_revoked(store: &dyn Store) {
    let w = world(store, "acme").await;
    let foreign = world(store, "globex").await;
    let sent = store
        .create_invitation(&w.actor, invite("new@acme.example", Role::Member, "inv-1", NOW + 1000))
        .await
        .expect("invite");
    assert_eq!((sent.org_name.as_str(), sent.invited_by.as_str()), ("acme", "owner@acme.example"));
    assert_eq!(sent.state(NOW), InvitationState::Pending);
    let again = store
        .create_invitation(&w.actor, invite("new@acme.example", Role::Viewer, "inv-2", NOW + 1000))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "one pending invitation per address: {again:?}");
    let member =
        store.create_invitation(&w.actor, invite(&w.user.email, Role::Viewer, "inv-3", NOW + 1000)).await;
    assert!(matches!(member, Err(StoreError::Conflict(_))), "a member already: {member:?}");
    assert!(store.invitations(&foreign.actor.org_id).await.expect("list").is_empty());
    assert_eq!(store.invitations(&w.actor.org_id).await.expect("list").len(), 1);

    // Accepted once: a person is made with the invited role; the link is spent.
    let who = Acceptance::NewPerson { password_hash: "hash".into() };
    let joined = store.accept_invitation("inv-1", who.clone(), NOW + 5).await.expect("accept");
    assert_eq!(
        (joined.email.as_str(), joined.role, joined.org_name.as_str()),
        ("new@acme.example", Role::Member, "acme")
    );
    assert!(refused(store.accept_invitation("inv-1", who.clone(), NOW + 6).await).contains("used"));
    assert_eq!(
        store.invitation("inv-1").await.expect("read").map(|i| i.state(NOW + 6)),
        Some(InvitationState::Accepted)
    );
    assert!(
        store.invitations(&w.actor.org_id).await.expect("list").is_empty(),
        "accepted ones leave the list"
    );
    assert!(is_not_found(store.accept_invitation("nope", who.clone(), NOW).await));

    // Expired and revoked invitations are refused, saying so; nobody is made.
    store
        .create_invitation(&w.actor, invite("late@acme.example", Role::Viewer, "inv-4", NOW + 10))
        .await
        .expect("invite");
    assert!(refused(store.accept_invitation("inv-4", who.clone(), NOW + 10).await).contains("expired"));
    let revoked = store
        .create_invitation(&w.actor, invite("gone@acme.example", Role::Viewer, "inv-5", NOW + 1000))
        .await
        .expect("invite");
    assert!(is_not_found(store.revoke_invitation(&foreign.actor, &revoked.id).await), "not theirs");
    store.revoke_invitation(&w.actor, &revoked.id).await.expect("revoke");
    assert!(refused(store.accept_invitation("inv-5", who.clone(), NOW + 20).await).contains("revoked"));
    assert!(store.user_by_email("late@acme.example").await.expect("read").is_none());
    assert!(store.user_by_email("gone@acme.example").await.expect("read").is_none());

    // Someone with an account joins as themselves; the link is theirs alone.
    let invited = store
        .create_invitation(&w.actor, invite(&foreign.user.email, Role::Viewer, "inv-6", NOW + 1000))
        .await
        .expect("invite");
    assert!(
        refused(store.accept_invitation("inv-6", Acceptance::Existing(joined.id.clone()), NOW + 30).await)
            .contains(&foreign.user.email)
    );
    let refused_new = store.accept_invitation("inv-6", who.clone(), NOW + 30).await;
    assert!(refused(refused_new).contains("log in"), "an existing account is not made twice");
    // A refusal left the invitation pending.
    assert_eq!(
        store.invitation("inv-6").await.expect("read").map(|i| i.state(NOW + 31)),
        Some(InvitationState::Pending)
    );
    let both = store
        .accept_invitation("inv-6", Acceptance::Existing(foreign.user.id.clone()), NOW + 31)
        .await
        .expect("accept");
    assert_eq!((both.org_name.as_str(), both.role), ("acme", Role::Viewer));
    assert_eq!(store.memberships(&foreign.user.id).await.expect("memberships").len(), 2);
    assert_eq!(invited.email, foreign.user.email);
    let log = actions(store, &w.actor.org_id).await;
    for action in ["invitation.create", "invitation.accept", "invitation.revoke"] {
        assert!(log.contains(&action.to_owned()), "{action} in {log:?}");
    }
}

pub async fn people_see_end_and_switch_their_sessions_and_a_new_password_ends_the_others(store: &dyn Store) {
    let w = world(store, "acme").await;
    store.create_user(person("globex", &w.user.email, Role::Viewer)).await.expect("a second organisation");
    let mine = store.create_session(session(&w.user, "s1")).await.expect("session");
    let other = store.create_session(session(&w.user, "s2")).await.expect("session");
    let someone =
        store.create_user(person("acme", "else@acme.example", Role::Member)).await.expect("someone");
    store.create_session(session(&someone, "s3")).await.expect("session");
    assert_eq!(store.sessions(&w.user.id, NOW).await.expect("list").len(), 2);
    assert_eq!(store.session("s1", NOW).await.expect("read").map(|s| s.id), Some(mine.clone()));

    // Switching moves this session only, and only into an organisation of theirs.
    let globex = store.memberships(&w.user.id).await.expect("memberships")[1].org_id.clone();
    store.switch_organization(&mine, &w.user.id, &globex).await.expect("switch");
    let switched = store.session("s1", NOW).await.expect("read").expect("live");
    assert_eq!((switched.user.org_name.as_str(), switched.user.role), ("globex", Role::Viewer));
    assert_eq!(store.session("s2", NOW).await.expect("read").map(|s| s.user.org_name), Some("acme".into()));
    assert!(is_not_found(store.switch_organization(&mine, &someone.id, &globex).await), "not their session");
    assert!(is_not_found(
        store.switch_organization(&other, &w.user.id, &OrgId::from("nope".to_owned())).await
    ));

    // Ending another person's session is not found; one's own ends.
    let theirs = store.sessions(&someone.id, NOW).await.expect("list")[0].id.clone();
    assert!(is_not_found(store.end_session(&w.actor, &theirs).await));
    store.end_session(&w.actor, &other).await.expect("end");
    assert!(store.session("s2", NOW).await.expect("read").is_none());

    // A new password ends every other session of the person, not this one nor anyone else's.
    store.create_session(session(&w.user, "s4")).await.expect("session");
    store.change_password(&w.actor, "new-hash", &mine).await.expect("change");
    assert!(store.session("s1", NOW).await.expect("read").is_some(), "this session stays");
    assert!(store.session("s4", NOW).await.expect("read").is_none(), "the others end");
    assert!(store.session("s3", NOW).await.expect("read").is_some(), "other people keep theirs");
    assert_eq!(
        store.user_by_email(&w.user.email).await.expect("read").and_then(|u| u.password_hash),
        Some("new-hash".into())
    );
    let log = actions(store, &w.actor.org_id).await;
    assert!(
        log.contains(&"password.change".to_owned()) && log.contains(&"session.end".to_owned()),
        "{log:?}"
    );
}

pub async fn single_sign_on_is_sealed_single_use_and_joins_people_just_in_time(store: &dyn Store) {
    let w = world(store, "acme").await;
    let settings = |sso_only: bool, break_glass: Option<clef_core::UserId>| crate::SsoSettings {
        issuer: "https://idp.acme.example".into(),
        client_id: "clef".into(),
        client_secret: Some("client-s3cret".into()),
        allowed_domains: vec!["acme.example".into()],
        default_role: Role::Viewer,
        role_claim: Some("groups".into()),
        role_map: [("clef-admins".to_owned(), Role::Admin)].into_iter().collect(),
        sso_only,
        break_glass,
    };
    // SSO only needs an owner who can still use a password.
    refused(store.set_sso_config(&w.actor, settings(true, None)).await);
    store.set_sso_config(&w.actor, settings(true, Some(w.user.id.clone()))).await.expect("configure");
    let config = store.sso_config(&w.actor.org_id).await.expect("read").expect("configured");
    assert_eq!(
        (config.client_secret.as_str(), config.role_for(&["clef-admins".into()])),
        ("client-s3cret", Role::Admin)
    );
    assert!(config.allows_password(&w.user.id) && config.sso_only);
    // A new secret is optional on later changes: the sealed one stays.
    store
        .set_sso_config(&w.actor, crate::SsoSettings { client_secret: None, ..settings(false, None) })
        .await
        .expect("reconfigure");
    assert_eq!(
        store.sso_config(&w.actor.org_id).await.expect("read").map(|c| c.client_secret),
        Some("client-s3cret".into())
    );
    let found = store.sso_config_for_email("Ada@ACME.example").await.expect("find").map(|c| c.org_id);
    assert_eq!(found, Some(w.actor.org_id.clone()));
    assert!(store.sso_config_for_email("ada@elsewhere.example").await.expect("find").is_none());

    // A sign-in's state is taken once, and not after it expired.
    let login = |hash: &str, expires_at| crate::SsoLogin {
        state_hash: hash.into(),
        org_id: w.actor.org_id.clone(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        login_hint: "ada@acme.example".into(),
        invitation_hash: None,
        expires_at,
    };
    store.begin_sso_login(login("st-1", NOW + 100), NOW).await.expect("begin");
    store.begin_sso_login(login("st-2", NOW + 100), NOW).await.expect("begin");
    assert_eq!(store.take_sso_login("st-1", NOW + 1).await.expect("take").map(|l| l.nonce), Some("n".into()));
    assert!(store.take_sso_login("st-1", NOW + 2).await.expect("take").is_none(), "replayed");
    assert!(store.take_sso_login("st-2", NOW + 100).await.expect("take").is_none(), "expired");

    // Just in time: a new person joins without a password; a member is found as they are.
    let ada =
        store.sso_member(&w.actor.org_id, "ada@acme.example", Some(Role::Admin), NOW).await.expect("join");
    assert_eq!((ada.role, ada.password_hash.clone()), (Role::Admin, None));
    let again =
        store.sso_member(&w.actor.org_id, "ada@acme.example", Some(Role::Viewer), NOW).await.expect("member");
    assert_eq!((again.id, again.role), (ada.id, Role::Admin), "a member keeps their role");
    refused(store.sso_member(&w.actor.org_id, "bob@acme.example", None, NOW).await);
    assert!(store.user_by_email("bob@acme.example").await.expect("read").is_none(), "nobody made");
    let log = actions(store, &w.actor.org_id).await;
    assert!(log.contains(&"sso.update".to_owned()) && log.contains(&"sso.join".to_owned()), "{log:?}");
    // An invitation accepted through the issuer: a person without a password, the invited role.
    store
        .create_invitation(&w.actor, invite("zed@partner.example", Role::Member, "inv-sso", NOW + 1000))
        .await
        .expect("invite");
    let zed =
        store.accept_invitation("inv-sso", crate::Acceptance::SingleSignOn, NOW + 5).await.expect("accept");
    assert_eq!(
        (zed.email.as_str(), zed.role, zed.password_hash),
        ("zed@partner.example", Role::Member, None)
    );
    store.delete_sso_config(&w.actor).await.expect("turn off");
    assert!(store.sso_config(&w.actor.org_id).await.expect("read").is_none());
}

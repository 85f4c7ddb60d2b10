-- Members: a person (users) belongs to any number of organisations, each with a role
-- (memberships). Invitations bring new members in. Personal access tokens act in one
-- organisation and may expire; sessions name the organisation they look at.

CREATE TABLE memberships (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);
INSERT INTO memberships (org_id, user_id, role, created_at) SELECT org_id, id, role, created_at FROM users;

ALTER TABLE personal_tokens ADD COLUMN org_id TEXT REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE personal_tokens t SET org_id = u.org_id FROM users u WHERE u.id = t.user_id;
ALTER TABLE personal_tokens ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE personal_tokens ADD COLUMN expires_at BIGINT;
CREATE INDEX personal_tokens_by_user ON personal_tokens (user_id);

ALTER TABLE users DROP COLUMN org_id;
ALTER TABLE users DROP COLUMN role;
-- NULL: the person signs in through single sign-on only.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD COLUMN last_active_at BIGINT;

-- Sessions start over: everyone logs in once more after the upgrade.
DROP TABLE sessions;
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    -- `password` or `sso`: an organisation that signs in through SSO only refuses the former.
    auth_method   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    invited_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX invitations_by_org ON invitations (org_id, created_at);

-- Single sign-on over OpenID Connect, per organisation. The client secret is sealed under the
-- server's secret key, as channel secrets are.
CREATE TABLE sso_configs (
    org_id           TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    client_secret    TEXT NOT NULL,
    -- JSON: the e-mail domains that may join (just in time), and claim value → role.
    allowed_domains  TEXT NOT NULL,
    default_role     TEXT NOT NULL,
    role_claim       TEXT,
    role_map         TEXT NOT NULL,
    sso_only         BOOLEAN NOT NULL DEFAULT FALSE,
    -- The owner who may still use a password when SSO is the only way in.
    break_glass      TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at       BIGINT NOT NULL
);

-- Sign-ins under way: the `state` sent to the issuer (its hash), single use, with the nonce
-- and PKCE verifier that must match what comes back.
CREATE TABLE sso_logins (
    state_hash     TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    login_hint     TEXT NOT NULL,
    -- When the sign-in accepts an invitation: the hash of its link's secret.
    invitation     TEXT,
    expires_at     BIGINT NOT NULL
);

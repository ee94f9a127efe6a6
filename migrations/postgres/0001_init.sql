-- latch schema, PostgreSQL dialect: the twin of migrations/sqlite/0001_init.sql.
-- Portable types only (TEXT, BIGINT) so the same queries run on both databases through
-- sqlx's Any driver: ids are UUID text, timestamps are Unix epoch milliseconds, booleans
-- are BIGINT 0/1 (every integer binds and decodes as i64).
-- Never edit a released migration; add a new one.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,            -- trimmed, lower case
    name TEXT NOT NULL,
    email_verified BIGINT NOT NULL DEFAULT 0,
    image TEXT,
    password_hash TEXT,                    -- argon2id PHC string; NULL = no password
    personal_workspace_id TEXT,            -- set once, when setup is finalized
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,       -- SHA-256 of the token, hex
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    max_expires_at BIGINT NOT NULL,        -- absolute lifetime
    refreshed_at BIGINT NOT NULL,
    persistent BIGINT NOT NULL,           -- 0 = browser-session cookie (rememberMe: false)
    ip_address TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- One-time tokens: email verification links and password reset links.
CREATE TABLE one_time_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,                 -- 'verify-email' | 'reset-password'
    password_hash TEXT,                    -- verify-email: the password bound to this sign-up request
    name TEXT,                             -- verify-email: the name bound to this sign-up request
    callback_url TEXT,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,                    -- used or voided
    created_at BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

-- Every email sent to an account, for the resend cooldown and the hourly cap.
CREATE TABLE email_log (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX email_log_user ON email_log (user_id, sent_at);

-- Failed sign-in counting per normalized email, whether or not an account exists.
CREATE TABLE sign_in_failures (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    first_failure_at BIGINT NOT NULL,
    locked_until BIGINT
);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,                    -- 'owner' | 'admin' | 'member'
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

-- Social identities linked to users (filled by the social sign-in flow).
CREATE TABLE linked_accounts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX linked_accounts_user ON linked_accounts (user_id);

-- Second factors (filled by the two-factor feature).
CREATE TABLE two_factor_methods (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method TEXT NOT NULL,                  -- e.g. 'totp'
    enabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX two_factor_methods_user ON two_factor_methods (user_id);

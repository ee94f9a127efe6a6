-- Two-factor authentication (docs/api.md §8). The placeholder table of the first
-- schema is replaced: nothing ever filled it.
DROP TABLE two_factor_methods;

-- One row per user with an authenticator or an enrollment under way. Secrets are
-- sealed (AES-256-GCM, the user id as associated data) with the instance's secret key.
CREATE TABLE two_factor (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT,                           -- the confirmed authenticator; NULL: 2FA off
    enabled_at BIGINT,
    pending_secret TEXT,                   -- an enrollment waiting for its first code
    pending_expires_at BIGINT,
    pending_failures BIGINT NOT NULL DEFAULT 0,
    last_step BIGINT NOT NULL DEFAULT 0,   -- the last TOTP step accepted (RFC 6238 §5.2)
    failures BIGINT NOT NULL DEFAULT 0,    -- consecutive rejected codes (§8.5)
    locked_until BIGINT,
    hard_locked BIGINT NOT NULL DEFAULT 0   -- locked until a password reset or users unlock
);

-- Backup codes: argon2id hashes; tag is one byte of a keyed hash of the code, so a
-- use verifies the one or two candidates instead of every code of the set.
CREATE TABLE backup_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX backup_codes_user ON backup_codes (user_id);

-- Pending second steps of a sign-in (§8.3): the ticket is stored as its SHA-256.
CREATE TABLE two_factor_tickets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    persistent BIGINT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    first_factor TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT NOT NULL DEFAULT 0 -- a verify checks a code against it until then
);
CREATE INDEX two_factor_tickets_user ON two_factor_tickets (user_id);

-- Trusted devices (§8.6): the token is stored as its SHA-256; use never extends expiry.
CREATE TABLE trusted_devices (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id);

-- A social sign-in that needs its second step lands here (§8.7).
ALTER TABLE oauth_states ADD COLUMN two_factor_callback_url TEXT;

-- Passkeys (docs/api.md §10).

-- The user's WebAuthn handle: 16 random bytes (hex), made with the first passkey and
-- never derived from the user id or email, so a credential names no account.
CREATE TABLE webauthn_handles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle TEXT NOT NULL UNIQUE
);

-- A registered credential. `credential` is the verified public key and its state as
-- webauthn-rs keeps it (JSON); sign_count and backed_up repeat what queries need.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,    -- base64url, as authenticators name it
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    backed_up INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- Ceremonies under way (the webauthn-rs state), single use: consumed by one DELETE.
-- A registration is bound to the session that asked; a sign-in to none.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                    -- 'register' or 'authenticate'
    session_id TEXT,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

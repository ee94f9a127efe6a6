-- Social sign-in: the state of each authorization request, kept server-side so any
-- instance can finish a flow another started. Single use, 10 minutes, bound to the
-- provider; carries the callback URLs and, for a link flow, the user.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,          -- SHA-256 of the state parameter
    provider TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    callback_url TEXT,
    error_callback_url TEXT,
    link_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);

-- Sessions: when a factor was last proven in it (step-up), its latest use, and how it
-- was established (docs/api.md §2, §7, §9). Existing sessions count as authenticated
-- and last active when they were created; how they were established is not known.
ALTER TABLE sessions ADD COLUMN authenticated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_active_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_ip_address TEXT;
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT '';
UPDATE sessions SET authenticated_at = created_at, last_active_at = created_at,
    last_ip_address = ip_address;

-- Email-change links ('change-email' one-time tokens) carry the address they confirm.
ALTER TABLE one_time_tokens ADD COLUMN new_email TEXT;

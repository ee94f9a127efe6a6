-- Contract v4 security fixes.
-- A social sign-in state is bound to the browser that started the flow: the hash of
-- the `oauth_state` cookie's value. States stored before this have none and can no
-- longer be finished (they expire within 10 minutes anyway).
ALTER TABLE oauth_states ADD COLUMN binding_hash TEXT;

-- Verification links belong to a sign-up request: resend mails another link for the
-- same request, and "several outstanding sign-up requests" counts requests, not links.
-- Ids are time-ordered (UUIDv7: the creation time in milliseconds comes first), so the
-- newest request sorts last. Earlier links each count as a request of their own, with
-- an id of the same shape made from their creation time, so they sort by age too.
ALTER TABLE one_time_tokens ADD COLUMN signup_request TEXT;
UPDATE one_time_tokens
SET signup_request = substr(printf('%012x', created_at), 1, 8) || '-' || substr(printf('%012x', created_at), 9, 4)
    || '-7000-8000-' || substr(replace(id, '-', ''), 1, 12)
WHERE purpose = 'verify-email';

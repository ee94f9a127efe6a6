-- Session checks answered from memory on every instance (docs/api.md §9, README
-- "Running in production"): every change to a session or a user, by latch or by
-- anyone else (an operator's psql), notifies channel `latch_sessions` in the same
-- transaction, so each instance drops the answers it remembers when it commits.
-- Payloads: `s:<token hash>` (a session changed or ended), `u:<user id>` (a user
-- changed or was deleted), `*` (many rows at once: drop everything).

-- Sends each key, or `*` instead when one statement changed more than 100 rows.
CREATE FUNCTION latch_notify(keys text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(keys) > 100 THEN
        PERFORM pg_notify('latch_sessions', '*');
    ELSE
        PERFORM pg_notify('latch_sessions', k) FROM unnest(keys) AS k;
    END IF;
END $$;

CREATE FUNCTION latch_notify_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- latch's purge deletes only sessions that ended minutes ago, which every instance
    -- refuses by its own expiry check already: it names nobody. It marks its own
    -- transaction by id, so a setting left on a role or a connection never matches.
    IF current_setting('latch.purge', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    PERFORM latch_notify(ARRAY(SELECT 's:' || token_hash FROM changed_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION latch_notify_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM latch_notify(ARRAY(SELECT 'u:' || id FROM changed_rows));
    RETURN NULL;
END $$;

-- An update that changes nothing (a row lock taken by a no-op UPDATE) names nobody.
CREATE FUNCTION latch_notify_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM latch_notify(ARRAY(
        SELECT 'u:' || o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o IS DISTINCT FROM n));
    RETURN NULL;
END $$;

CREATE FUNCTION latch_notify_everything() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('latch_sessions', '*');
    RETURN NULL;
END $$;

-- One trigger per event: a trigger with transition tables takes a single event.
CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_sessions();
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_sessions();
CREATE TRIGGER users_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_users_changed();
CREATE TRIGGER users_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_users();
CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_everything();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION latch_notify_everything();

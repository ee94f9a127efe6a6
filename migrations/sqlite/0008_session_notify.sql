-- Nothing to do on SQLite: instances sharing one database file share its write
-- generation (src/store/generation.rs), which stands in for PostgreSQL's
-- notifications (the PostgreSQL migration of the same number).
SELECT 1;

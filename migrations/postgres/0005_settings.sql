-- Values latch keeps about itself: the check of the key that seals second-factor
-- secrets (an instance with another key refuses to start).
CREATE TABLE latch_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

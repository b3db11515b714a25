-- The outcome of each source's latest sync, so that a run which could not sync a source still
-- renders its reports and says which source is stale, why, and since when.
CREATE TABLE source_status (
    source VARCHAR PRIMARY KEY,
    last_attempt_at TIMESTAMPTZ NOT NULL,
    last_success_at TIMESTAMPTZ,        -- NULL: never synced successfully
    error VARCHAR                       -- NULL: the latest attempt succeeded
);

-- FOCUS cost exports are not copied: each `focus` source keeps a view over its current files
-- (`costs__<source>`) and one row here saying which files, billing periods and rows it holds.
-- `cost_rows` is every cost: the rows sources copied into `costs` and every focus view.
ALTER TABLE costs ADD COLUMN billing_period_start TIMESTAMPTZ;
ALTER TABLE costs ADD COLUMN billing_period_end TIMESTAMPTZ;
ALTER TABLE costs ADD COLUMN charge_category VARCHAR;
ALTER TABLE costs ADD COLUMN charge_class VARCHAR;
ALTER TABLE costs ADD COLUMN allocation VARCHAR;    -- 'direct', 'shared' or NULL (unattributed)

CREATE TABLE cost_exports (
    export VARCHAR PRIMARY KEY,         -- the source's name
    view_name VARCHAR NOT NULL,
    shared_split VARCHAR NOT NULL,      -- 'none', 'even' or 'predictions'
    files JSON NOT NULL,                -- [{path, bytes, sha256, rows, billing_periods}]
    manifests JSON NOT NULL,            -- the manifests whose deliveries are read
    superseded JSON NOT NULL,           -- data files left out: an older delivery's
    billing_periods JSON NOT NULL,
    row_count BIGINT NOT NULL,
    source VARCHAR,
    synced_at TIMESTAMPTZ
);

-- The entities each cost source names (so they are added to `entities`).
CREATE TABLE cost_entities (
    source VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, entity)
);

CREATE VIEW cost_rows AS
SELECT source, row_id, charge_period_start, charge_period_end, billing_period_start,
       billing_period_end, billed_cost, effective_cost, list_cost, currency, provider,
       service_name, service_category, charge_category, charge_class, resource_id, region,
       tags::VARCHAR AS tags, entity, allocation
FROM costs;

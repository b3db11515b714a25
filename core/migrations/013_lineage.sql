-- Lineage and delivery evidence (issue 12): MLflow 3 logged models, the datasets runs read
-- (`mlflow.log_input`), the link from a registered version to its logged model and whether
-- its artifacts can still be listed, the alias or tag a registry event is about, and the
-- rollout strategy of a deployment.

-- MLflow 3 LoggedModels (`logged-models/search`, or the offline store's tables).
CREATE TABLE logged_models (
    source VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    experiment_id VARCHAR,
    name VARCHAR,
    source_run_id VARCHAR,          -- the run that produced it (NULL: none recorded)
    status VARCHAR,                 -- READY, PENDING, FAILED, ... or DELETED (gone from MLflow)
    artifact_location VARCHAR,
    model_type VARCHAR,
    created_at TIMESTAMPTZ,
    params JSON,                    -- {name: value}
    tags JSON,                      -- {name: value}
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, model_id)
);

-- The datasets a run read (`inputs.dataset_inputs`), one row per dataset and context
-- (the `mlflow.data.context` input tag: training, testing, ...; '' when absent).
CREATE TABLE run_inputs (
    source VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    dataset_name VARCHAR NOT NULL,
    dataset_digest VARCHAR NOT NULL,
    dataset_source_type VARCHAR,    -- local, http, s3, delta_table, ...
    dataset_source VARCHAR,         -- the source's JSON, as MLflow stores it
    context VARCHAR NOT NULL DEFAULT '',
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, run_id, dataset_name, dataset_digest, context)
);

-- The logged model a registered version was made from (MLflow 3), and whether the version's
-- artifacts could still be listed at the last sync (NULL: not checked; only versions that
-- ever held a production alias are).
ALTER TABLE model_versions ADD COLUMN model_id VARCHAR;
ALTER TABLE model_versions ADD COLUMN artifacts_present BOOLEAN;

-- model_events gains `key` (the alias or tag an event is about; '' for version_created) in
-- its primary key. DuckDB cannot alter a primary key, so the table is rebuilt keeping every
-- row: `key` is read from the stored detail, and the microsecond a sync used to add to keep
-- two events of one version apart (two aliases set in one sync) is taken off again where the
-- new key already tells them apart.
CREATE TABLE model_events_013 (
    source VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    key VARCHAR NOT NULL DEFAULT '',
    "at" TIMESTAMPTZ NOT NULL,
    at_kind VARCHAR,
    detail JSON,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, name, version, event, key, "at")
);
INSERT INTO model_events_013
WITH keyed AS (
    SELECT *,
        COALESCE(json_extract_string(detail, '$.alias'), json_extract_string(detail, '$.tag'),
                 '') AS new_key,
        date_trunc('millisecond', "at") AS ms
    FROM model_events
), ranked AS (
    SELECT *,
        count(*) OVER (PARTITION BY source, name, version, event, ms) AS same_ms,
        row_number() OVER (PARTITION BY source, name, version, event, new_key, ms
                           ORDER BY "at") AS nth
    FROM keyed
)
SELECT source, name, version, event, new_key,
       CASE WHEN same_ms > 1 AND nth = 1 THEN ms ELSE "at" END,
       at_kind, detail, synced_at
FROM ranked;
DROP TABLE model_events;
ALTER TABLE model_events_013 RENAME TO model_events;

-- deployments gains `strategy`, checked like status and kind. DuckDB cannot add a column with
-- a CHECK constraint, so the table is rebuilt keeping every row (strategy NULL: unknown).
CREATE TABLE deployments_013 (
    source VARCHAR NOT NULL,
    deployment_id VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    version VARCHAR,
    commit_sha VARCHAR,
    model_version VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('success', 'failure', 'rolled_back')),
    kind VARCHAR NOT NULL DEFAULT 'planned' CHECK (kind IN ('planned', 'hotfix', 'rollback')),
    trigger VARCHAR CHECK (trigger IN ('automated', 'manual')),
    synced_at TIMESTAMPTZ,
    strategy VARCHAR CHECK (strategy IN ('rolling', 'recreate', 'canary', 'blue_green', 'shadow')),
    PRIMARY KEY (source, deployment_id)
);
INSERT INTO deployments_013
SELECT source, deployment_id, entity, environment, version, commit_sha, model_version,
       started_at, finished_at, status, kind, trigger, synced_at, NULL
FROM deployments;
DROP TABLE deployments;
ALTER TABLE deployments_013 RENAME TO deployments;

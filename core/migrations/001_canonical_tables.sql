-- The canonical tables of DESIGN.md. Every synced row carries `source` and `synced_at`.
CREATE TABLE entities (
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    owner VARCHAR,
    team VARCHAR,
    risk_tier VARCHAR,
    intended_use VARCHAR,
    description VARCHAR,
    tags JSON,
    attributes JSON,
    declared BOOLEAN NOT NULL DEFAULT false,
    source VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (kind, name)
);

-- commits has no PRIMARY KEY constraint on purpose: maintaining DuckDB's index costs more
-- than git itself on large histories. Its key (repo, sha) is kept unique by the kernel's
-- upsert (Warehouse.upsert dedupes each batch, updates matching rows, inserts the rest).
CREATE TABLE commits (
    repo VARCHAR NOT NULL,
    sha VARCHAR NOT NULL,
    parents VARCHAR[],
    generation BIGINT,
    author_name VARCHAR,
    author_email VARCHAR,
    authored_at TIMESTAMPTZ,
    committed_at TIMESTAMPTZ,
    subject VARCHAR,
    source VARCHAR,
    synced_at TIMESTAMPTZ
);

CREATE TABLE repo_entities (
    repo VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    source VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (repo, entity)
);

CREATE TABLE pull_requests (
    repo VARCHAR NOT NULL,
    number BIGINT NOT NULL,
    title VARCHAR,
    author VARCHAR,
    created_at TIMESTAMPTZ,
    merged_at TIMESTAMPTZ,
    merge_sha VARCHAR,
    head_sha VARCHAR,
    base_ref VARCHAR,
    source VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (repo, number)
);

CREATE TABLE deployments (
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
    PRIMARY KEY (source, deployment_id)
);

CREATE TABLE incidents (
    source VARCHAR NOT NULL,
    incident_id VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    environment VARCHAR,
    severity VARCHAR,
    detected_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    cause_deployment_id VARCHAR,
    title VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, incident_id)
);

CREATE TABLE experiments (
    source VARCHAR NOT NULL,
    experiment_id VARCHAR NOT NULL,
    name VARCHAR,
    lifecycle_stage VARCHAR,
    tags JSON,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, experiment_id)
);

CREATE TABLE runs (
    source VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    experiment_id VARCHAR,
    name VARCHAR,
    status VARCHAR,
    lifecycle_stage VARCHAR,
    user_id VARCHAR,
    git_sha VARCHAR,
    start_time TIMESTAMPTZ,
    end_time TIMESTAMPTZ,
    params JSON,
    tags JSON,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, run_id)
);

CREATE TABLE run_metrics (
    source VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    step BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, run_id, key, step, ts)
);

CREATE TABLE registered_models (
    source VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    owner VARCHAR,
    description VARCHAR,
    tags JSON,
    aliases JSON,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, name)
);

CREATE TABLE model_versions (
    source VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    run_id VARCHAR,
    model_source VARCHAR,
    status VARCHAR,
    description VARCHAR,
    tags JSON,
    aliases VARCHAR[],
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, name, version)
);

CREATE TABLE model_events (
    source VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    at_kind VARCHAR,
    detail JSON,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, name, version, event, "at")
);

CREATE TABLE costs (
    source VARCHAR NOT NULL,
    row_id VARCHAR NOT NULL,
    charge_period_start TIMESTAMPTZ,
    charge_period_end TIMESTAMPTZ,
    billed_cost DECIMAL(38, 10),
    effective_cost DECIMAL(38, 10),
    list_cost DECIMAL(38, 10),
    currency VARCHAR,
    provider VARCHAR,
    service_name VARCHAR,
    service_category VARCHAR,
    resource_id VARCHAR,
    region VARCHAR,
    tags JSON,
    entity VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, row_id)
);

CREATE TABLE usage (
    source VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, entity, metric, ts)
);

CREATE TABLE metric_values (
    run_id VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    dimensions VARCHAR NOT NULL,
    value DOUBLE,
    unit VARCHAR,
    n BIGINT,
    band VARCHAR,
    band_table VARCHAR,
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, metric, entity, window_start, window_end, dimensions)
);

CREATE TABLE report_runs (
    run_id VARCHAR PRIMARY KEY,
    report VARCHAR NOT NULL,
    as_of TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    config_hash VARCHAR,
    inputs JSON,
    plugins JSON,
    outputs JSON,
    manifest JSON
);

CREATE TABLE _sync_state (
    source VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    cursor JSON,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, stream)
);

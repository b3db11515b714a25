-- Prediction logs are not copied: each `predictions` source keeps a view over its files
-- (`predictions__<source>`, and `predictions_reference__<source>` when a reference is set)
-- and one row here saying what the views hold and which files they read (for manifests).
CREATE TABLE prediction_logs (
    log VARCHAR PRIMARY KEY,            -- the source's name
    entity VARCHAR NOT NULL,
    task VARCHAR NOT NULL,              -- 'classification' or 'regression'
    view_name VARCHAR NOT NULL,
    reference_view VARCHAR,             -- NULL: no reference configured
    reference_kind VARCHAR,             -- 'window' (of the same log) or 'files'
    reference_since TIMESTAMPTZ,
    reference_until TIMESTAMPTZ,
    numeric_features VARCHAR[],
    categorical_features VARCHAR[],
    sensitive_features VARCHAR[],
    intersections JSON,                 -- list of lists of sensitive feature names
    shap_columns JSON,                  -- {feature: view column} when SHAP values are logged
    files JSON,                         -- [{path, bytes, sha256}] behind view_name
    reference_files JSON,               -- the same for a reference read from its own files
    row_count BIGINT,
    source VARCHAR,
    synced_at TIMESTAMPTZ
);

-- Every log's canonical columns together; sources rebuild it when their views change.
CREATE VIEW predictions AS
SELECT NULL::VARCHAR AS log, NULL::VARCHAR AS entity, NULL::VARCHAR AS model_version,
       NULL::TIMESTAMPTZ AS ts, NULL::DOUBLE AS prediction, NULL::DOUBLE AS score,
       NULL::DOUBLE AS label
WHERE false;

-- One row per metrics run: which families computed, which failed (and why), and which detail
-- tables they published. Reports render one run: they read its rows of `metric_values` and,
-- through this table, know what is missing from it and why.
CREATE TABLE metric_runs (
    run_id VARCHAR PRIMARY KEY,
    computed_at TIMESTAMPTZ NOT NULL,
    families JSON NOT NULL,             -- names of the families that computed
    failures JSON NOT NULL,             -- {family: "ErrorType: message"}
    details JSON NOT NULL               -- names of the tables published in schema `details`
);

-- Detail rows a metric family publishes for reports (a deployment's changes, confusion
-- counts, drift bins): `details.<family>_<name>`, replaced by each run that computes the family,
-- every row tagged with the `metric_run_id` that wrote it.
CREATE SCHEMA details;

-- What a metrics run was for, so "since last run" can find the run it follows: the `as_of`
-- of the `run` or `report` that computed it, its main window, and the entities it was limited
-- to (null: all). Runs of `metrics` and `check` leave them null and are never compared.
ALTER TABLE metric_runs ADD COLUMN as_of TIMESTAMPTZ;
ALTER TABLE metric_runs ADD COLUMN window_start TIMESTAMPTZ;
ALTER TABLE metric_runs ADD COLUMN window_end TIMESTAMPTZ;
ALTER TABLE metric_runs ADD COLUMN scope JSON;

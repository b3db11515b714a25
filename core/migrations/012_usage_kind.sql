-- What a `usage` row measures, so metric families aggregate it correctly without knowing the
-- source: kind 'counter' (an amount per step: requests, core-hours; summed over a window),
-- 'gauge' (a level sampled at ts: utilisation, bytes; mean/p95/max over a window) or 'ratio'
-- (a per-step ratio such as OpenCost's efficiency, recomputed from its parts, never averaged);
-- `unit` as the source or config names it; `step_seconds` the span one row covers.
ALTER TABLE usage ADD COLUMN kind VARCHAR;
ALTER TABLE usage ADD COLUMN unit VARCHAR;
ALTER TABLE usage ADD COLUMN step_seconds DOUBLE;

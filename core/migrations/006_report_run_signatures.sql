-- Audit history of report runs: where each run's outputs were written and whether its in-toto
-- statement was signed (and by whom), so `mlreport history` can list them without reading
-- every archived folder.
ALTER TABLE report_runs ADD COLUMN out_dir VARCHAR;
ALTER TABLE report_runs ADD COLUMN signature VARCHAR;        -- 'signed' or 'unsigned'
ALTER TABLE report_runs ADD COLUMN signer VARCHAR;           -- [signing] signer, when signed
ALTER TABLE report_runs ADD COLUMN key_id VARCHAR;           -- minisign key id (hex), when signed
ALTER TABLE report_runs ADD COLUMN statement_sha256 VARCHAR; -- sha256 of the statement file

-- GitHub / GitLab sources (connectors/githosts): what a pull or merge request adds to the
-- columns of 001, and the releases and tags of a repository.
ALTER TABLE pull_requests ADD COLUMN updated_at TIMESTAMPTZ;
ALTER TABLE pull_requests ADD COLUMN first_commit_at TIMESTAMPTZ;   -- earliest authored commit
ALTER TABLE pull_requests ADD COLUMN first_review_at TIMESTAMPTZ;   -- earliest review by another person
ALTER TABLE pull_requests ADD COLUMN additions BIGINT;
ALTER TABLE pull_requests ADD COLUMN deletions BIGINT;
ALTER TABLE pull_requests ADD COLUMN labels VARCHAR[];
ALTER TABLE pull_requests ADD COLUMN url VARCHAR;

-- A release (kind 'release') or a plain tag (kind 'tag') of a repository; a tag with a release
-- appears once per kind.
CREATE TABLE releases (
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('release', 'tag')),
    tag VARCHAR NOT NULL,
    repo VARCHAR,
    name VARCHAR,
    sha VARCHAR,
    created_at TIMESTAMPTZ,
    published_at TIMESTAMPTZ,
    draft BOOLEAN,
    prerelease BOOLEAN,
    url VARCHAR,
    synced_at TIMESTAMPTZ,
    PRIMARY KEY (source, kind, tag)
);

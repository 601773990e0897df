-- Applications and their runtime keys (snk_live_...). Only a SHA-256 of each key is
-- stored; the key itself is shown once, when it is created. A revocation is a newer
-- row for the same hash: ReplacingMergeTree keeps the latest Version.
CREATE TABLE IF NOT EXISTS applications ${ON_CLUSTER}
(
    AppId String,
    Name String,
    CreatedAt DateTime64(3),
    Version UInt64
)
ENGINE = ${REPLICATED}ReplacingMergeTree(Version)
ORDER BY AppId;

CREATE TABLE IF NOT EXISTS runtime_keys ${ON_CLUSTER}
(
    KeyHash String,
    KeyPrefix String,
    AppId String,
    Name String,
    CreatedAt DateTime64(3),
    RevokedAt Nullable(DateTime64(3)),
    Version UInt64
)
ENGINE = ${REPLICATED}ReplacingMergeTree(Version)
ORDER BY KeyHash;

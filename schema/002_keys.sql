-- Applications and their runtime keys (snk_live_...). Only a SHA-256 of each key is
-- stored; the key itself is shown once, when it is created. A revocation is a newer
-- row for the same hash: ReplacingMergeTree keeps the latest Version. On a cluster the
-- rows of one application (one key hash) stay on one shard, so FINAL is right per shard.
CREATE TABLE IF NOT EXISTS applications${LOCAL} ${ON_CLUSTER}
(
    AppId String,
    Name String,
    CreatedAt DateTime64(3),
    Version UInt64
)
ENGINE = ${REPLICATED}ReplacingMergeTree(Version)
ORDER BY AppId;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS applications ${ON_CLUSTER} AS applications${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), applications${LOCAL}, cityHash64(AppId));

CREATE TABLE IF NOT EXISTS runtime_keys${LOCAL} ${ON_CLUSTER}
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

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS runtime_keys ${ON_CLUSTER} AS runtime_keys${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), runtime_keys${LOCAL}, cityHash64(KeyHash));

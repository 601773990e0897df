-- Bearer tokens of the query API. Only a SHA-256 of each token is stored; the token
-- itself is printed once, when it is created. Each token grants a set of applications.
-- A revocation is a newer row for the same hash: ReplacingMergeTree keeps the latest Version.
CREATE TABLE IF NOT EXISTS api_tokens${LOCAL} ${ON_CLUSTER}
(
    TokenHash String,
    TokenId String,
    Name String,
    AppIds Array(String),
    CreatedAt DateTime64(3, 'UTC'),
    RevokedAt Nullable(DateTime64(3, 'UTC')),
    Version UInt64
)
ENGINE = ${REPLICATED}ReplacingMergeTree(Version)
ORDER BY TokenHash;

${CLUSTER_ONLY}CREATE TABLE IF NOT EXISTS api_tokens ${ON_CLUSTER} AS api_tokens${LOCAL}
ENGINE = Distributed(${CLUSTER}, currentDatabase(), api_tokens${LOCAL}, cityHash64(TokenHash));

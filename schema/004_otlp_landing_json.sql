-- OTLP/JSON requests land here, one request per line (JSONEachRow), with the same
-- two fields the protobuf records carry: appId and receivedUnixNano. The column
-- names are the OTLP/JSON ones (lowerCamelCase); the insert settings let a named
-- tuple be read from an object, missing members take defaults and unknown ones
-- are skipped. A Nullable member tells which of AnyValue's fields was given,
-- as the oneof presence column does for protobuf. The view writes exactly the
-- columns the protobuf view writes, from the same values.

CREATE OR REPLACE FUNCTION otlp_json_scalar ${ON_CLUSTER} AS (v) -> multiIf(
    isNotNull(tupleElement(v, 'stringValue')), assumeNotNull(tupleElement(v, 'stringValue')),
    isNotNull(tupleElement(v, 'intValue')), toString(assumeNotNull(tupleElement(v, 'intValue'))),
    isNotNull(tupleElement(v, 'boolValue')), if(assumeNotNull(tupleElement(v, 'boolValue')), 'true', 'false'),
    isNotNull(tupleElement(v, 'doubleValue')), toString(assumeNotNull(tupleElement(v, 'doubleValue'))),
    isNotNull(tupleElement(v, 'bytesValue')), assumeNotNull(tupleElement(v, 'bytesValue')),
    '');

CREATE OR REPLACE FUNCTION otlp_json_value ${ON_CLUSTER} AS (v) -> if(
    notEmpty(tupleElement(tupleElement(v, 'arrayValue'), 'values')),
    toJSONString(arrayMap(x -> otlp_json_scalar(x), tupleElement(tupleElement(v, 'arrayValue'), 'values'))),
    otlp_json_scalar(v));

CREATE OR REPLACE FUNCTION otlp_json_attributes ${ON_CLUSTER} AS (kvs) -> CAST(
    mapFromArrays(arrayMap(kv -> tupleElement(kv, 'key'), kvs), arrayMap(kv -> otlp_json_value(tupleElement(kv, 'value')), kvs)),
    'Map(LowCardinality(String), String)');

CREATE TABLE IF NOT EXISTS otlp_landing_json ${ON_CLUSTER}
(
    resourceSpans Array(Tuple(
        resource Tuple(attributes Array(Tuple(key String, value Tuple(
            stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
            doubleValue Nullable(Float64), bytesValue Nullable(String),
            arrayValue Tuple(values Array(Tuple(
                stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                doubleValue Nullable(Float64), bytesValue Nullable(String)))))))),
        scopeSpans Array(Tuple(
            scope Tuple(name String, version String),
            spans Array(Tuple(
                traceId String, spanId String, traceState String, parentSpanId String, name String, kind Int32,
                startTimeUnixNano UInt64, endTimeUnixNano UInt64,
                attributes Array(Tuple(key String, value Tuple(
                    stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                    doubleValue Nullable(Float64), bytesValue Nullable(String),
                    arrayValue Tuple(values Array(Tuple(
                        stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                        doubleValue Nullable(Float64), bytesValue Nullable(String))))))),
                events Array(Tuple(timeUnixNano UInt64, name String, attributes Array(Tuple(key String, value Tuple(
                    stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                    doubleValue Nullable(Float64), bytesValue Nullable(String),
                    arrayValue Tuple(values Array(Tuple(
                        stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                        doubleValue Nullable(Float64), bytesValue Nullable(String))))))))),
                links Array(Tuple(traceId String, spanId String, traceState String, attributes Array(Tuple(key String, value Tuple(
                    stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                    doubleValue Nullable(Float64), bytesValue Nullable(String),
                    arrayValue Tuple(values Array(Tuple(
                        stringValue Nullable(String), boolValue Nullable(Bool), intValue Nullable(Int64),
                        doubleValue Nullable(Float64), bytesValue Nullable(String))))))))),
                status Tuple(message String, code Int32))))))),
    appId String,
    receivedUnixNano UInt64
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS otlp_landing_json_mv ${ON_CLUSTER}
TO otel_traces
AS SELECT
    fromUnixTimestamp64Nano(toInt64(sp.startTimeUnixNano)) AS Timestamp,
    lower(sp.traceId) AS TraceId,
    lower(sp.spanId) AS SpanId,
    lower(sp.parentSpanId) AS ParentSpanId,
    sp.traceState AS TraceState,
    sp.name AS SpanName,
    otlp_span_kind(sp.kind) AS SpanKind,
    ResourceAttributes['service.name'] AS ServiceName,
    otlp_json_attributes(rs.resource.attributes) AS ResourceAttributes,
    ss.scope.name AS ScopeName,
    ss.scope.version AS ScopeVersion,
    otlp_json_attributes(sp.attributes) AS SpanAttributes,
    if(sp.endTimeUnixNano > sp.startTimeUnixNano, sp.endTimeUnixNano - sp.startTimeUnixNano, 0) AS Duration,
    otlp_status_code(sp.status.code) AS StatusCode,
    sp.status.message AS StatusMessage,
    arrayMap(e -> fromUnixTimestamp64Nano(toInt64(e.timeUnixNano)), sp.events) AS `Events.Timestamp`,
    arrayMap(e -> e.name, sp.events) AS `Events.Name`,
    arrayMap(e -> otlp_json_attributes(e.attributes), sp.events) AS `Events.Attributes`,
    arrayMap(l -> lower(l.traceId), sp.links) AS `Links.TraceId`,
    arrayMap(l -> lower(l.spanId), sp.links) AS `Links.SpanId`,
    arrayMap(l -> l.traceState, sp.links) AS `Links.TraceState`,
    arrayMap(l -> otlp_json_attributes(l.attributes), sp.links) AS `Links.Attributes`,
    appId AS AppId,
    http_method(SpanAttributes) AS HttpMethod,
    SpanAttributes['http.route'] AS HttpRoute,
    http_target(SpanAttributes) AS HttpTarget,
    http_status_code(SpanAttributes) AS HttpStatusCode,
    http_client_ip(SpanAttributes) AS ClientIp,
    http_user_agent(SpanAttributes) AS UserAgent
FROM otlp_landing_json
ARRAY JOIN resourceSpans AS rs
ARRAY JOIN rs.scopeSpans AS ss
ARRAY JOIN ss.spans AS sp;

-- Where write-ahead-log segments are inserted. The Null engine keeps nothing: the
-- materialized views below flatten each request (resource -> scope -> span) into
-- otel_traces, so the spans are decoded by ClickHouse, not by Python. The column
-- names follow schema/otlp_landing.proto; members the proto has and these columns
-- lack (nested arrays of arrays, kvlists) are skipped by the reader.
--
-- `value` is the oneof presence column (input_format_protobuf_oneof_presence=1):
-- it tells an int 0, a false and an empty string apart.

CREATE OR REPLACE FUNCTION otlp_scalar ${ON_CLUSTER} AS (v) -> multiIf(
    tupleElement(v, 'value') = 'string_value', tupleElement(v, 'string_value'),
    tupleElement(v, 'value') = 'int_value', toString(tupleElement(v, 'int_value')),
    tupleElement(v, 'value') = 'bool_value', if(tupleElement(v, 'bool_value'), 'true', 'false'),
    tupleElement(v, 'value') = 'double_value', toString(tupleElement(v, 'double_value')),
    tupleElement(v, 'value') = 'bytes_value', base64Encode(tupleElement(v, 'bytes_value')),
    '');

-- An attribute value as the exporter stores it: scalars as text, arrays as JSON.
CREATE OR REPLACE FUNCTION otlp_value ${ON_CLUSTER} AS (v) -> if(
    tupleElement(v, 'value') = 'array_value',
    toJSONString(arrayMap(x -> otlp_scalar(x), tupleElement(tupleElement(v, 'array_value'), 'values'))),
    otlp_scalar(v));

CREATE OR REPLACE FUNCTION otlp_attributes ${ON_CLUSTER} AS (kvs) -> CAST(
    mapFromArrays(arrayMap(kv -> tupleElement(kv, 'key'), kvs), arrayMap(kv -> otlp_value(tupleElement(kv, 'value')), kvs)),
    'Map(LowCardinality(String), String)');

-- The first non-empty value among attribute names, old and new semantic conventions.
CREATE OR REPLACE FUNCTION otlp_first ${ON_CLUSTER} AS (m, names) ->
    arrayFirst(x -> x != '', arrayMap(n -> m[n], names));

-- What both landing views (protobuf here, JSON in 004) derive the same way: the
-- exporter's names of span kinds and status codes, and the HTTP columns from the old
-- and the new semantic conventions. One place to add a convention's new name.
CREATE OR REPLACE FUNCTION otlp_span_kind ${ON_CLUSTER} AS (k) ->
    ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT',
     'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'][least(greatest(k, 0), 5) + 1];

CREATE OR REPLACE FUNCTION otlp_status_code ${ON_CLUSTER} AS (c) ->
    ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'][least(greatest(c, 0), 2) + 1];

CREATE OR REPLACE FUNCTION http_method ${ON_CLUSTER} AS (m) ->
    upper(otlp_first(m, ['http.request.method', 'http.method']));

CREATE OR REPLACE FUNCTION http_target ${ON_CLUSTER} AS (m) ->
    otlp_first(m, ['url.path', 'http.target']);

CREATE OR REPLACE FUNCTION http_status_code ${ON_CLUSTER} AS (m) ->
    toUInt16OrZero(otlp_first(m, ['http.response.status_code', 'http.status_code']));

CREATE OR REPLACE FUNCTION http_client_ip ${ON_CLUSTER} AS (m) ->
    otlp_first(m, ['http.client_ip', 'client.address', 'net.peer.ip', 'network.peer.address', 'net.sock.peer.addr']);

CREATE OR REPLACE FUNCTION http_user_agent ${ON_CLUSTER} AS (m) ->
    otlp_first(m, ['user_agent.original', 'http.user_agent']);

CREATE TABLE IF NOT EXISTS otlp_landing ${ON_CLUSTER}
(
    resource_spans Array(Tuple(
        resource Tuple(attributes Array(Tuple(key String, value Tuple(
            value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                        'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
            string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String,
            array_value Tuple(values Array(Tuple(
                value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                            'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String))))))),
        scope_spans Array(Tuple(
            scope Tuple(name String, version String),
            spans Array(Tuple(
                trace_id String, span_id String, trace_state String, parent_span_id String, name String, kind Int32,
                start_time_unix_nano UInt64, end_time_unix_nano UInt64,
                attributes Array(Tuple(key String, value Tuple(
                    value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                    string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String,
                    array_value Tuple(values Array(Tuple(
                        value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                    'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                        string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String)))))),
                events Array(Tuple(time_unix_nano UInt64, name String, attributes Array(Tuple(key String, value Tuple(
                    value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                    string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String,
                    array_value Tuple(values Array(Tuple(
                        value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                    'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                        string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String)))))))),
                links Array(Tuple(trace_id String, span_id String, trace_state String, attributes Array(Tuple(key String, value Tuple(
                    value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                    string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String,
                    array_value Tuple(values Array(Tuple(
                        value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4,
                                    'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7),
                        string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String)))))))),
                status Tuple(message String, code Int32))))))),
    app_id String,
    received_unix_nano UInt64
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS otlp_landing_mv ${ON_CLUSTER}
TO otel_traces
AS SELECT
    fromUnixTimestamp64Nano(toInt64(sp.start_time_unix_nano)) AS Timestamp,
    lower(hex(sp.trace_id)) AS TraceId,
    lower(hex(sp.span_id)) AS SpanId,
    lower(hex(sp.parent_span_id)) AS ParentSpanId,
    sp.trace_state AS TraceState,
    sp.name AS SpanName,
    otlp_span_kind(sp.kind) AS SpanKind,
    ResourceAttributes['service.name'] AS ServiceName,
    otlp_attributes(rs.resource.attributes) AS ResourceAttributes,
    ss.scope.name AS ScopeName,
    ss.scope.version AS ScopeVersion,
    otlp_attributes(sp.attributes) AS SpanAttributes,
    if(sp.end_time_unix_nano > sp.start_time_unix_nano, sp.end_time_unix_nano - sp.start_time_unix_nano, 0) AS Duration,
    otlp_status_code(sp.status.code) AS StatusCode,
    sp.status.message AS StatusMessage,
    arrayMap(e -> fromUnixTimestamp64Nano(toInt64(e.time_unix_nano)), sp.events) AS `Events.Timestamp`,
    arrayMap(e -> e.name, sp.events) AS `Events.Name`,
    arrayMap(e -> otlp_attributes(e.attributes), sp.events) AS `Events.Attributes`,
    arrayMap(l -> lower(hex(l.trace_id)), sp.links) AS `Links.TraceId`,
    arrayMap(l -> lower(hex(l.span_id)), sp.links) AS `Links.SpanId`,
    arrayMap(l -> l.trace_state, sp.links) AS `Links.TraceState`,
    arrayMap(l -> otlp_attributes(l.attributes), sp.links) AS `Links.Attributes`,
    app_id AS AppId,
    http_method(SpanAttributes) AS HttpMethod,
    SpanAttributes['http.route'] AS HttpRoute,
    http_target(SpanAttributes) AS HttpTarget,
    http_status_code(SpanAttributes) AS HttpStatusCode,
    http_client_ip(SpanAttributes) AS ClientIp,
    http_user_agent(SpanAttributes) AS UserAgent
FROM otlp_landing
ARRAY JOIN resource_spans AS rs
ARRAY JOIN rs.scope_spans AS ss
ARRAY JOIN ss.spans AS sp;

"""How a request's bytes become rows: the landing table's record format.

A record is the OTLP ``ExportTraceServiceRequest`` exactly as the client sent it
(after decompression), with two fields appended, which protobuf merges into the
message: the application id (field 100) and the receive time (field 101). Many
records, each prefixed by its varint length, make one ``Protobuf`` insert into
``otlp_landing``; ClickHouse decodes them and the materialized views write the
span tables. Python never walks the spans.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import orjson

from collector.migrate import SCHEMA_DIR

LANDING_TABLE = "otlp_landing"
LANDING_PROTO = (SCHEMA_DIR / "otlp_landing.proto").read_text()

_APP_ID_TAG = bytes([0xA2, 0x06])  # field 100, wire type 2 (length-delimited)
_RECEIVED_TAG = bytes([0xA9, 0x06])  # field 101, wire type 1 (fixed64)


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_record(request: bytes, app_id: str, received_unix_nano: int) -> bytes:
    """One length-delimited landing message for a serialized request."""
    app = app_id.encode()
    message_tail = _APP_ID_TAG + varint(len(app)) + app + _RECEIVED_TAG + received_unix_nano.to_bytes(8, "little")
    return varint(len(request) + len(message_tail)) + request + message_tail


def insert_settings(dedup_token: str | None = None) -> dict:
    """Settings for one insert of records into the landing table.

    With a token, a repeated insert of the same records (a retry after a timeout,
    a replay after a crash) is dropped by the tables behind the views.
    """
    settings = {
        "format_schema_source": "string",
        "format_schema": LANDING_PROTO,
        "format_schema_message_name": "ExportTraceServiceRequest",
        "input_format_protobuf_oneof_presence": 1,
    }
    if dedup_token:
        settings["insert_deduplication_token"] = dedup_token
        settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
    return settings


@dataclass(frozen=True)
class Format:
    """How requests of one content type are logged and inserted.

    ``encode(body, app_id, received_unix_nano)`` turns one request into one
    record; records of one format concatenated are one insert body for
    ``table`` in ClickHouse input format ``clickhouse_format`` with
    ``settings(dedup_token)``.
    """

    name: str
    table: str
    clickhouse_format: str
    encode: Callable[[bytes, str, int], bytes]
    settings: Callable[[str | None], dict]


# --- OTLP/JSON: one request per line into otlp_landing_json (schema/004) ---
LANDING_JSON_TABLE = "otlp_landing_json"


def encode_json_record(request: bytes, app_id: str, received_unix_nano: int) -> bytes:
    """The request object on one line, with ``appId`` and ``receivedUnixNano`` added.

    JSON strings cannot hold a raw line break, so the breaks of a pretty-printed
    body are whitespace and become spaces. The receiver has removed any
    ``appId`` the client sent (see otlp_checks), so these are the only ones.
    """
    body = request.strip().replace(b"\r", b" ").replace(b"\n", b" ")
    if not body.startswith(b"{") or not body.endswith(b"}"):
        raise ValueError("an OTLP/JSON request is one JSON object")
    inner = body[1:-1].strip()
    head = b'{"appId":' + orjson.dumps(app_id) + b',"receivedUnixNano":' + str(int(received_unix_nano)).encode()
    return head + (b"," + inner if inner else b"") + b"}\n"


def json_insert_settings(dedup_token: str | None = None) -> dict:
    settings = {
        "input_format_json_named_tuples_as_objects": 1,
        "input_format_json_defaults_for_missing_elements_in_named_tuple": 1,
        "input_format_json_ignore_unknown_keys_in_named_tuple": 1,
        "input_format_skip_unknown_fields": 1,
        "input_format_import_nested_json": 0,
    }
    if dedup_token:
        settings["insert_deduplication_token"] = dedup_token
        settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
    return settings


FORMATS: dict[str, Format] = {
    "protobuf": Format("protobuf", LANDING_TABLE, "Protobuf", encode_record, insert_settings),
    "json": Format("json", LANDING_JSON_TABLE, "JSONEachRow", encode_json_record, json_insert_settings),
}

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


FORMATS: dict[str, Format] = {
    "protobuf": Format("protobuf", LANDING_TABLE, "Protobuf", encode_record, insert_settings),
}

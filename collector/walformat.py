"""The bytes of a write-ahead-log segment: framing, encoding, and a tolerant reader.

A segment starts with ``SEGMENT_MAGIC`` and its 16-byte id. Each record is::

    RECORD_MAGIC (4) | payload length (u32) | CRC32 of length and payload (u32) | payload

and the payload is ``received_ns (u64) | spans (u32) | len(fmt) (u8) | len(app_id)
(u16) | fmt | app_id | body``. The magic lets the reader find the next record
after a damaged one; the CRC tells an intact record from a torn or corrupted one,
so a bad stretch is skipped and everything intact around it is kept.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SEGMENT_MAGIC = b"SNKWAL01"
SEGMENT_HEADER_SIZE = len(SEGMENT_MAGIC) + 16
RECORD_MAGIC = b"\xd5\x7a\x11\x0c"
_FRAME = struct.Struct("<4sII")
_META = struct.Struct("<QIBH")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class Record:
    """One accepted request, as logged."""

    fmt: str
    app_id: str
    received_ns: int
    spans: int
    body: bytes


def encode(record: Record) -> bytes:
    head = payload_head(record)
    return frame(head, record.body) + record.body


def payload_head(record: Record) -> bytes:
    """The payload's bytes before the body (small: cheap to build on the event loop)."""
    fmt, app = record.fmt.encode(), record.app_id.encode()
    return _META.pack(record.received_ns, record.spans, len(fmt), len(app)) + fmt + app


def framed_size(head: bytes, body: bytes) -> int:
    return _FRAME.size + len(head) + len(body)


def frame(head: bytes, body: bytes) -> bytes:
    """The record's bytes before the body; ``frame(head, body) + body`` is the record.
    The CRC reads the whole body, so the log calls this in its writing thread,
    and the body is never copied into a payload of its own."""
    length = _U32.pack(len(head) + len(body))
    return RECORD_MAGIC + length + _U32.pack(zlib.crc32(body, zlib.crc32(head, zlib.crc32(length)))) + head


def segment_header(segment_id: bytes) -> bytes:
    return SEGMENT_MAGIC + segment_id


def _decode_payload(payload: memoryview) -> Record:
    received_ns, spans, fmt_len, app_len = _META.unpack_from(payload)
    start = _META.size
    fmt = bytes(payload[start:start + fmt_len]).decode()
    app = bytes(payload[start + fmt_len:start + fmt_len + app_len]).decode()
    return Record(fmt, app, received_ns, spans, bytes(payload[start + fmt_len + app_len:]))


def _intact_at(data: memoryview, pos: int) -> int:
    """End offset of an intact record starting at ``pos``, or -1."""
    if pos + _FRAME.size > len(data):
        return -1
    magic, length, crc = _FRAME.unpack_from(data, pos)
    end = pos + _FRAME.size + length
    if magic != RECORD_MAGIC or length < _META.size or end > len(data):
        return -1
    if zlib.crc32(data[pos + _FRAME.size:end], zlib.crc32(data[pos + 4:pos + 8])) != crc:
        return -1
    return end


@dataclass
class Scan:
    """What a segment holds: its intact records and the damaged stretches skipped."""

    segment_id: bytes
    records: list[Record]
    corrupt: int
    corrupt_offsets: list[int]


def scan(data: bytes) -> Scan:
    """Every intact record of a segment; each damaged stretch counts once."""
    view = memoryview(data)
    if len(data) < SEGMENT_HEADER_SIZE or data[:len(SEGMENT_MAGIC)] != SEGMENT_MAGIC:
        # Without its header nothing in the file can be trusted to be ours.
        return Scan(b"", [], 1 if data else 0, [0] if data else [])
    result = Scan(data[len(SEGMENT_MAGIC):SEGMENT_HEADER_SIZE], [], 0, [])
    pos = SEGMENT_HEADER_SIZE
    while pos < len(data):
        end = _intact_at(view, pos)
        if end >= 0:
            result.records.append(_decode_payload(view[pos + _FRAME.size:end]))
            pos = end
            continue
        result.corrupt += 1
        result.corrupt_offsets.append(pos)
        pos = _next_intact(data, view, pos + 1)
    return result


def _next_intact(data: bytes, view: memoryview, start: int) -> int:
    """Where the next intact record starts after a damaged one (or the end)."""
    pos = data.find(RECORD_MAGIC, start)
    while pos >= 0 and _intact_at(view, pos) < 0:
        pos = data.find(RECORD_MAGIC, pos + 1)
    return len(data) if pos < 0 else pos


def first_received_ns(head: bytes) -> int | None:
    """The receive time of a segment's first record, from its first bytes only."""
    pos = SEGMENT_HEADER_SIZE + _FRAME.size
    if len(head) < pos + _META.size or head[SEGMENT_HEADER_SIZE:SEGMENT_HEADER_SIZE + 4] != RECORD_MAGIC:
        return None
    return _META.unpack_from(head, pos)[0]


META_PROBE_BYTES = SEGMENT_HEADER_SIZE + _FRAME.size + _META.size

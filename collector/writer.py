"""Ships sealed write-ahead-log segments to ClickHouse, in order, exactly once.

A segment's records are grouped by format and cut into chunks of at most
``insert_max_bytes``; each chunk is ONE insert into the format's landing table,
carrying a deduplication token made of the segment's id, the format and the
chunk's record range. A retry after a timeout, or a replay after a crash, sends
the same chunk with the same token, and the tables behind the landing table's
views keep it once. (Checked: the token still holds when ClickHouse cuts one
insert into several blocks; ``max_insert_block_size`` is set high anyway so a
chunk is one block and a rejected insert leaves nothing behind.)

A transient error (``StoreUnavailable``) is retried with exponential backoff and
jitter, without end: the data is safe on disk and the log's budget pushes back
on clients meanwhile. A permanent error (``StoreRejected``) splits the chunk in
halves until the records the store refuses are alone; those go to the
dead-letter folder and are counted, the rest are inserted.

Because the tokens depend on where chunks are cut, a segment must be cut the
same way when it is shipped again. Before its first insert, the writer notes in
``shipping.json`` (beside the log's segments) which segment it ships and the
``insert_max_bytes`` it cuts it with; a restart resumes that segment with the
noted size even if the setting changed meanwhile. Only the segment being shipped
can be half in the store (segments go one at a time, in order), so one note is
enough.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from collector import landing, metrics
from collector.store import Store, StoreRejected, StoreUnavailable
from collector.wal import Segment, Wal
from collector.walformat import Record, encode, segment_header

log = logging.getLogger(__name__)

EXPORTER = "clickhouse"
# Environment variable read only by tests: while the file it names exists, every
# insert fails as if the store were down (the outage test's switch).
FAULT_FILE_ENV = "COLLECTOR_TEST_INSERT_FAULT_FILE"
SHIPPING_NOTE = "shipping.json"
# writer_insert_max_bytes before the shipping note existed: a log left by that version was cut with it.


@dataclass(frozen=True)
class WriterLimits:
    insert_max_bytes: int = 16 << 20
    retry_initial: float = 0.2
    retry_max: float = 30.0
    # Extra insert settings, e.g. for a cluster: return once every shard has the rows.
    insert_settings: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Chunk:
    segment_id: str
    fmt: str
    first: int
    records: list[Record]

    @property
    def token(self) -> str:
        return f"{self.segment_id}:{self.fmt}:{self.first}-{self.first + len(self.records) - 1}"

    @property
    def spans(self) -> int:
        return sum(r.spans for r in self.records)

    def halves(self) -> tuple["Chunk", "Chunk"]:
        mid = len(self.records) // 2
        return (Chunk(self.segment_id, self.fmt, self.first, self.records[:mid]),
                Chunk(self.segment_id, self.fmt, self.first + mid, self.records[mid:]))


def chunks(segment_id: str, records: list[Record], max_bytes: int) -> list[Chunk]:
    """Per format, consecutive records in bounded chunks; a chunk's range counts that format's records."""
    out: list[Chunk] = []
    by_format: dict[str, list[Record]] = {}
    for record in records:
        by_format.setdefault(record.fmt, []).append(record)
    for fmt, items in by_format.items():
        current: list[tuple[int, Record]] = []
        size = 0
        for index, record in enumerate(items):
            if current and size + len(record.body) > max_bytes:
                out.append(Chunk(segment_id, fmt, current[0][0], [r for _, r in current]))
                current, size = [], 0
            current.append((index, record))
            size += len(record.body)
        out.append(Chunk(segment_id, fmt, current[0][0], [r for _, r in current]))
    return out


def _insert_body(chunk: Chunk) -> bytes:
    encode_one = landing.FORMATS[chunk.fmt].encode
    return b"".join(encode_one(r.body, r.app_id, r.received_ns) for r in chunk.records)


class Writer:
    def __init__(self, wal: Wal, store: Store, dead_letter_dir: Path, limits: WriterLimits = WriterLimits()):
        self.wal, self.store, self.limits = wal, store, limits
        self.dead_letter_dir = Path(dead_letter_dir)
        self.fault: Callable[[], None] | None = _fault_from_environment()
        self.failing_since: float | None = None

    async def run(self) -> None:
        while True:
            segment = await self.wal.next_sealed()
            try:
                await self.ship(segment)
                await self.wal.release(segment)
            except Exception:  # never let one segment stop the shipping for good
                log.exception("shipping write-ahead log segment %s failed; trying again", segment.name)
                await asyncio.sleep(self.limits.retry_max)

    async def ship(self, segment: Segment) -> None:
        try:
            scanned = await asyncio.to_thread(self.wal.read, segment)
        except FileNotFoundError:
            log.error("write-ahead log segment %s vanished before it was shipped", segment.name)
            return
        segment_id = scanned.segment_id.hex() or f"unnamed-{segment.seq}"
        max_bytes = await asyncio.to_thread(self._cut_size, segment)
        for chunk in chunks(segment_id, scanned.records, max_bytes):
            await self._insert(chunk)

    async def _insert(self, chunk: Chunk) -> None:
        try:
            await self._insert_with_retry(chunk)
        except StoreRejected as exc:
            if len(chunk.records) == 1:
                await asyncio.to_thread(self._dead_letter, chunk, exc)
                return
            first, second = chunk.halves()
            await self._insert(first)
            await self._insert(second)

    async def _insert_with_retry(self, chunk: Chunk) -> None:
        fmt = landing.FORMATS.get(chunk.fmt)
        if fmt is None:
            raise StoreRejected(f"no landing format for {chunk.fmt!r}")
        try:
            body = await asyncio.to_thread(_insert_body, chunk)
        except ValueError as exc:  # a record its format cannot encode: the store could never take it
            raise StoreRejected(f"cannot encode as {chunk.fmt}: {exc}") from exc
        settings = dict(fmt.settings(chunk.token), max_insert_block_size=1 << 30, **dict(self.limits.insert_settings))
        delay = self.limits.retry_initial
        while True:
            try:
                started = time.perf_counter()
                if self.fault is not None:
                    self.fault()
                await self.store.araw_insert(fmt.table, body, fmt.clickhouse_format, settings)
            except StoreUnavailable as exc:
                delay = await self._back_off(chunk, exc, delay)
                continue
            metrics.INSERT_SECONDS.observe(time.perf_counter() - started)
            metrics.INSERT_ROWS.inc(chunk.spans)
            metrics.EXPORTER_SENT_SPANS.labels(EXPORTER).inc(chunk.spans)
            if self.failing_since is not None:
                log.info("inserts into the store work again after %.1f s", time.monotonic() - self.failing_since)
                self.failing_since = None
            return

    async def _back_off(self, chunk: Chunk, exc: Exception, delay: float) -> float:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.warning("insert into the store failed, retrying with backoff: %s", str(exc).splitlines()[0][:300])
        metrics.EXPORTER_SEND_FAILED_SPANS.labels(EXPORTER).inc(chunk.spans)
        metrics.INSERT_RETRIES.inc()
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        return min(delay * 2, self.limits.retry_max)

    def _cut_size(self, segment: Segment) -> int:
        """The insert size this segment is cut with: the noted one if it was begun before; noted durably."""
        note_path = self.wal.dir / SHIPPING_NOTE
        try:
            note = json.loads(note_path.read_text())
            noted = (int(note["seq"]), int(note["insert_max_bytes"]))
        except FileNotFoundError:
            noted = None
        except (ValueError, KeyError, TypeError):
            log.warning("%s is unreadable; segment %s is cut with the configured insert size", note_path, segment.name)
            noted = None
        if noted is not None and noted[0] == segment.seq:
            return noted[1]
        _write_note(note_path, segment.seq, self.limits.insert_max_bytes)
        return self.limits.insert_max_bytes

    def _dead_letter(self, chunk: Chunk, exc: Exception) -> None:
        """Keep a refused record where an operator can find it, in the log's own framing."""
        self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
        path = self.dead_letter_dir / f"{chunk.token.replace(':', '-')}.seg"
        data = segment_header(bytes.fromhex(chunk.segment_id) if len(chunk.segment_id) == 32 else bytes(16))
        data += b"".join(encode(r) for r in chunk.records)
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        path.with_suffix(".error").write_text(str(exc))
        metrics.DEAD_LETTERED.inc()
        metrics.EXPORTER_SEND_FAILED_SPANS.labels(EXPORTER).inc(chunk.spans)
        log.error("a %s record the store refuses was set aside in %s: %s", chunk.fmt, path, str(exc).splitlines()[0][:300])


def _write_note(path: Path, seq: int, insert_max_bytes: int) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as handle:
        json.dump({"seq": seq, "insert_max_bytes": insert_max_bytes}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a power cut before the first insert goes out
    finally:
        os.close(fd)


def _fault_from_environment() -> Callable[[], None] | None:
    path = os.environ.get(FAULT_FILE_ENV)
    if not path:
        return None

    def fault() -> None:
        if os.path.exists(path):
            raise StoreUnavailable(f"injected fault: {path} exists")
    return fault

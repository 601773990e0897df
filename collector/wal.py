"""The write-ahead log: an acknowledged request is in a segment file on disk, fsynced.

Appends wait in a queue; one committer task writes everything queued as one
write and one fsync (group commit), then wakes every append it covered, so many
concurrent requests share one fsync. Segments are sealed by size, and by age
when the writer has nothing else to ship, and handed to the writer in order; a segment is deleted only after the writer
``release``\\ s it, and ``checkpoint.json`` remembers the last one released, so a
crash between the insert and the delete does not ship it again. Every segment
found at start-up is sealed as it is: its intact records are shipped, a torn
tail is skipped and counted.

Bounded: bytes on disk plus bytes queued never pass ``max_bytes`` and bytes
queued never pass ``inflight_max_bytes``; past either, ``append`` raises
``BackPressure``. A full disk is back-pressure too, never a crash or a false ack.
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from collector import metrics
from collector.sink import BackPressure, SinkUnavailable
from collector.walformat import (
    META_PROBE_BYTES, Record, Scan, first_received_ns, frame, framed_size, payload_head, scan, segment_header,
)

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.json"
LOCK = "LOCK"
SUFFIX = ".seg"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_RESUME_BELOW = 0.9  # of max_bytes: where a log that reached its budget takes requests again


class WalLocked(Exception):
    """Another process holds the log's directory."""


@dataclass
class Segment:
    seq: int
    path: Path
    size: int = 0
    first_received_ns: int | None = None
    fd: int | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class WalLimits:
    max_bytes: int = 1 << 30
    segment_max_bytes: int = 16 << 20
    segment_max_age: float = 1.0
    inflight_max_bytes: int = 64 << 20
    commit_window: float = 0.0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Pending:
    """An append waiting for the committer: its record not yet framed."""

    head: bytes
    body: bytes
    size: int
    future: asyncio.Future
    received_ns: int


class Wal:
    def __init__(self, directory: Path, limits: WalLimits = WalLimits()):
        self.dir = Path(directory)
        self.limits = limits
        self._sealed: deque[Segment] = deque()
        self._active: Segment | None = None
        self._active_since = 0.0
        self._pending: list[_Pending] = []
        self._pending_bytes = 0
        self._disk_bytes = 0
        self._shipped_seq = 0
        self._next_seq = 1
        self._lock_fd: int | None = None
        self._wake = asyncio.Event()
        self._sealed_ready = asyncio.Event()
        self._committer: asyncio.Task | None = None
        self._closing = False
        self.last_error: str | None = None
        self.shedding = False

    # --- life cycle ---

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)
        metrics.EXPORTER_QUEUE_CAPACITY.labels("clickhouse").set(self.limits.max_bytes)
        metrics.WAL_OLDEST_AGE.set_function(self.oldest_age)
        self._update_gauges()
        if self._sealed:
            self._sealed_ready.set()
        self._committer = asyncio.create_task(self._commit_loop(), name="wal-committer")

    def _open_sync(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise WalLocked(f"wal_dir: {self.dir} is in use by another process (a running 'collector serve'?)") from None
        self._shipped_seq = self._read_checkpoint()
        found = sorted((int(p.stem), p) for p in self.dir.glob("*" + SUFFIX) if p.stem.isdigit())
        for seq, path in found:
            if seq <= self._shipped_seq:
                path.unlink(missing_ok=True)  # shipped; the crash came before the delete
                continue
            with open(path, "rb") as handle:
                head = handle.read(META_PROBE_BYTES)
            self._sealed.append(Segment(seq, path, path.stat().st_size, first_received_ns(head)))
            self._disk_bytes += path.stat().st_size
        self._next_seq = max([self._shipped_seq] + [seq for seq, _ in found]) + 1
        if self._sealed:
            log.info("write-ahead log holds %d unshipped segment(s), %d bytes", len(self._sealed), self._disk_bytes)

    def _read_checkpoint(self) -> int:
        try:
            return int(json.loads((self.dir / CHECKPOINT).read_text())["shipped_seq"])
        except FileNotFoundError:
            return 0
        except (ValueError, KeyError, TypeError):
            # Losing it only means shipped segments still on disk are shipped again,
            # which the insert tokens make harmless.
            log.warning("write-ahead log checkpoint %s is unreadable; starting from the segments on disk", self.dir / CHECKPOINT)
            return 0

    async def stop_appending(self) -> None:
        """Refuse new appends, commit what is queued, seal the active segment."""
        self._closing = True
        self._wake.set()
        task, self._committer = self._committer, None
        if task is not None:
            await task
        await self._seal()

    async def close(self) -> None:
        """Stop appending and let go of the directory. Safe to call twice."""
        await self.stop_appending()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- appending ---

    async def append(self, record: Record) -> None:
        """Return once ``record`` is on disk and fsynced; raise if it cannot be."""
        if self._closing or self._committer is None:
            raise SinkUnavailable("the write-ahead log is closed")
        # Only the small head is built here; the CRC over the body and the copy into
        # one write happen in the writing thread, off the event loop.
        head = payload_head(record)
        size = framed_size(head, record.body)
        if self._pending_bytes + size > self.limits.inflight_max_bytes:
            raise BackPressure("too many requests waiting for the disk", retry_after=1.0)
        if self.shedding or self.used_bytes + size > self.limits.max_bytes:
            # Near the budget, refuse everything until shipping frees a tenth of it:
            # no flapping, and small requests do not starve large ones.
            self.shedding = self.used_bytes >= self.limits.max_bytes * _RESUME_BELOW
            raise BackPressure("the write-ahead log is at its disk budget (wal_max_bytes)", retry_after=2.0)
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(head, record.body, size, future, record.received_ns))
        self._pending_bytes += size
        self._wake.set()
        await future

    @property
    def used_bytes(self) -> int:
        return self._disk_bytes + self._pending_bytes

    def over_budget(self) -> bool:
        """Refusing for the budget now: from a refusal near it until shipping makes room."""
        return self.shedding

    async def _commit_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._until_age_seal())
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self._pending and self.limits.commit_window > 0 and not self._closing:
                await asyncio.sleep(self.limits.commit_window)
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)
            if self._active is not None and self._until_age_seal() == 0:
                await self._seal()
            if self._closing and not self._pending:
                return

    def _until_age_seal(self) -> float | None:
        # While the writer still has sealed segments to ship, sealing a young one
        # cannot make anything arrive sooner; letting it grow makes fewer, larger inserts.
        if self._active is None or self._active.first_received_ns is None or self._sealed:
            return None
        return max(0.0, self._active_since + self.limits.segment_max_age - time.monotonic())

    async def _commit(self, batch: list[_Pending]) -> None:
        size = sum(item.size for item in batch)
        error: BaseException | None = None
        try:
            if self._active is not None and self._active.first_received_ns is not None and (
                self._active.size + size > self.limits.segment_max_bytes
            ):
                await self._seal()
            if self._active is None:
                self._active = await asyncio.to_thread(self._create_segment)
                self._active_since = time.monotonic()
            await asyncio.to_thread(self._write, self._active, batch)
            if self._active.first_received_ns is None:
                self._active.first_received_ns = batch[0].received_ns
            self._disk_bytes += size
            metrics.WAL_APPENDED_BYTES.inc(size)
            self.last_error = None
        except Exception as exc:  # never a false ack, never a hung request
            error = self._failure(exc)
            if self._active is not None:
                await self._seal()  # its tail is suspect: ship what was committed, start afresh
        finally:
            self._pending_bytes -= size
            self._update_gauges()
        for item in batch:
            future = item.future
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _failure(self, exc: Exception) -> Exception:
        self.last_error = f"{getattr(exc, 'strerror', None) or exc}"
        log.error("write-ahead log append failed in %s: %s", self.dir, self.last_error, exc_info=not isinstance(exc, OSError))
        if getattr(exc, "errno", None) in _DISK_FULL:
            return BackPressure("the write-ahead log's disk is full", retry_after=5.0)
        return SinkUnavailable(f"the write-ahead log cannot be written ({self.last_error})")

    def _create_segment(self) -> Segment:
        seq = self._next_seq
        path = self.dir / f"{seq:016d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            header = segment_header(uuid.uuid4().bytes)
            _write_all(fd, header)
            os.fsync(fd)
            _fsync_dir(self.dir)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._next_seq = seq + 1
        self._disk_bytes += len(header)
        return Segment(seq, path, len(header), fd=fd)

    def _write(self, segment: Segment, batch: list[_Pending]) -> None:
        """Frame, write and fsync ``batch`` (in a thread: the CRCs and the join of the
        bodies, both over every byte, release the GIL)."""
        data = b"".join([part for item in batch for part in (frame(item.head, item.body), item.body)])
        try:
            _write_all(segment.fd, data)
            started = time.perf_counter()
            os.fdatasync(segment.fd)
            metrics.WAL_FSYNC_SECONDS.observe(time.perf_counter() - started)
        except OSError:
            # Take back whatever part of this batch reached the file: none of it is acknowledged.
            try:
                os.ftruncate(segment.fd, segment.size)
            except OSError:
                pass
            raise
        segment.size += len(data)

    async def _seal(self) -> None:
        segment, self._active = self._active, None
        if segment is None:
            return
        if segment.fd is not None:
            fd, segment.fd = segment.fd, None
            await asyncio.to_thread(_close_quietly, fd)
        self._sealed.append(segment)
        self._sealed_ready.set()
        self._update_gauges()

    # --- shipping side ---

    async def next_sealed(self) -> Segment:
        """The oldest sealed segment not yet released; waits for one."""
        while not self._sealed:
            self._sealed_ready.clear()
            await self._sealed_ready.wait()
        return self._sealed[0]

    def has_sealed(self) -> bool:
        return bool(self._sealed)

    def read(self, segment: Segment) -> Scan:
        """The intact records of a sealed segment (blocking: call from a thread)."""
        result = scan(segment.path.read_bytes())
        if result.corrupt:
            metrics.WAL_CORRUPT_RECORDS.inc(result.corrupt)
            log.warning(
                "write-ahead log segment %s: skipped %d damaged stretch(es) at byte offset(s) %s; kept %d intact record(s)",
                segment.name, result.corrupt, ", ".join(map(str, result.corrupt_offsets[:5])), len(result.records),
            )
        return result

    async def release(self, segment: Segment) -> None:
        """The segment is in the store: remember that, then delete it."""
        await asyncio.to_thread(self._release_sync, segment)
        self._sealed.remove(segment)
        if not self._sealed:
            self._wake.set()  # the writer is idle: the active segment may be old enough to seal
        self._disk_bytes -= segment.size
        if self.used_bytes < self.limits.max_bytes * _RESUME_BELOW:
            self.shedding = False
        self._update_gauges()

    def _release_sync(self, segment: Segment) -> None:
        tmp = self.dir / (CHECKPOINT + ".tmp")
        with open(tmp, "w") as handle:
            json.dump({"shipped_seq": segment.seq}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.dir / CHECKPOINT)
        _fsync_dir(self.dir)
        self._shipped_seq = segment.seq
        segment.path.unlink(missing_ok=True)

    # --- state ---

    async def writable(self) -> str | None:
        """None if the log can be written; after a failed append, probe the disk again."""
        if self.last_error is None:
            return None
        try:
            await asyncio.to_thread(self._probe)
        except OSError as exc:
            return f"the write-ahead log cannot be written: {exc.strerror or exc}"
        self.last_error = None
        return None

    def _probe(self) -> None:
        probe = self.dir / ".probe"
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()

    def oldest_age(self) -> float:
        segments = list(self._sealed) + ([self._active] if self._active else [])
        times = [s.first_received_ns for s in segments if s.first_received_ns]
        return max(0.0, (time.time_ns() - min(times)) / 1e9) if times else 0.0

    def _update_gauges(self) -> None:
        metrics.WAL_BYTES.set(self._disk_bytes)
        metrics.WAL_SEGMENTS.set(len(self._sealed) + (1 if self._active else 0))
        metrics.EXPORTER_QUEUE_SIZE.labels("clickhouse").set(self._disk_bytes)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _close_quietly(fd: int) -> None:
    """Closing a written, fsynced file can only report what fsync already did."""
    try:
        os.close(fd)
    except OSError:
        pass

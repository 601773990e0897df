"""The durable ingest pipeline: the receivers' ``Sink``, made of the log and the writer.

``accept`` returns once the request is in the write-ahead log and fsynced; the
writer ships sealed segments to the store in the background. ``start`` replays
what an earlier run left in the log; ``shutdown`` stops accepting, seals, gives
the writer ``drain_timeout`` seconds to ship what is sealed, then closes; what
is left stays on disk for the next start.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from collector import landing, metrics, migrate
from collector.config import Config
from collector.sink import BackPressure, SinkUnavailable
from collector.store import Store
from collector.wal import Wal, WalLimits, WalLocked
from collector.walformat import Record
from collector.writer import EXPORTER, Writer, WriterLimits

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, store: Store, wal_dir: Path, dead_letter_dir: Path, wal_limits: WalLimits = WalLimits(),
                 writer_limits: WriterLimits = WriterLimits(), drain_timeout: float = 10.0):
        self.wal = Wal(wal_dir, wal_limits)
        self.writer = Writer(self.wal, store, dead_letter_dir, writer_limits)
        self.drain_timeout = drain_timeout
        self._task: asyncio.Task | None = None
        self._state = "new"

    @classmethod
    def from_config(cls, store: Store, config: Config) -> "Pipeline":
        data_dir = Path(config.data_dir)
        return cls(
            store,
            Path(config.wal_dir) if config.wal_dir else data_dir / "wal",
            data_dir / "dead-letter",
            WalLimits(
                max_bytes=config.wal_max_bytes,
                segment_max_bytes=config.wal_segment_max_bytes,
                segment_max_age=config.wal_segment_max_age_ms / 1000,
                inflight_max_bytes=config.wal_inflight_max_bytes,
                commit_window=config.wal_group_commit_us / 1e6,
            ),
            WriterLimits(
                insert_max_bytes=config.writer_insert_max_bytes,
                retry_max=config.writer_retry_max_backoff_ms / 1000,
                insert_settings=tuple((migrate.cluster_settings(config.cluster) or {}).items()),
            ),
            drain_timeout=config.shutdown_drain_timeout_ms / 1000,
        )

    async def start(self) -> None:
        try:
            await self.wal.open()
        except WalLocked as exc:
            from collector.service import StartupError  # the service imports this module
            raise StartupError(str(exc)) from exc
        self._task = asyncio.create_task(self.writer.run(), name="wal-writer")
        self._state = "running"

    async def accept(self, app_id: str, fmt: str, body: bytes, spans: int) -> None:
        if self._state != "running":
            raise SinkUnavailable("the pipeline is not running")
        if fmt not in landing.FORMATS:
            raise ValueError(f"no landing format for {fmt!r}")
        try:
            await self.wal.append(Record(fmt, app_id, time.time_ns(), spans, body))
        except BackPressure:
            metrics.EXPORTER_ENQUEUE_FAILED_SPANS.labels(EXPORTER).inc(spans)
            raise

    async def shutdown(self) -> None:
        if self._state != "running":
            return
        self._state = "stopped"
        await self.wal.stop_appending()
        try:
            await asyncio.wait_for(self._drained(), self.drain_timeout)
        except asyncio.TimeoutError:
            log.warning("shutdown: unshipped segments stay in the write-ahead log for the next start")
        task, self._task = self._task, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.wal.close()

    async def _drained(self) -> None:
        while self.wal.has_sealed() and not self._task.done():
            await asyncio.sleep(0.02)

    # --- readiness checks ---

    async def log_writable(self) -> str | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return f"the writer stopped: {self._task.exception()!r}"
        return await self.wal.writable()

    async def not_shedding_load(self) -> str | None:
        if self.wal.over_budget():
            return "the write-ahead log is at its disk budget; clients are told to retry later"
        return None

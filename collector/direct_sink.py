"""A sink that inserts each request straight into the store, until the
write-ahead-log pipeline replaces it.

The request is acknowledged once ClickHouse has taken the insert. Nothing is
kept on local disk, so a store outage is answered 503 / UNAVAILABLE and the
client's exporter retries.
"""
from __future__ import annotations

import time

from collector.landing import FORMATS
from collector.sink import SinkUnavailable
from collector.store import Store, StoreUnavailable


class DirectSink:
    def __init__(self, store: Store):
        self.store = store

    async def accept(self, app_id: str, fmt: str, body: bytes, spans: int) -> None:
        form = FORMATS[fmt]
        record = form.encode(body, app_id, time.time_ns())
        try:
            await self.store.araw_insert(form.table, record, form.clickhouse_format, settings=form.settings(None))
        except StoreUnavailable as exc:
            raise SinkUnavailable(str(exc)) from exc

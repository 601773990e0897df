"""The pipeline against the real embedded store: retries, duplicates, dead letters, replay, outage."""
from __future__ import annotations

import asyncio
import functools
import os
import time

import pytest

from collector import landing, metrics, migrate
from collector.pipeline import Pipeline
from collector.sink import BackPressure
from collector.store import StoreUnavailable
from collector.wal import WalLimits
from collector.writer import WriterLimits
from tests.otlp_factory import make_request, span_ids, to_json


def sync(test):
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


def sample(name: str) -> float:
    return metrics.REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def store(fresh_store):
    migrate.migrate(fresh_store)
    return fresh_store


def make_pipeline(store, tmp_path, **wal_limits) -> Pipeline:
    limits = dict(segment_max_age=0.05) | wal_limits
    return Pipeline(store, tmp_path / "wal", tmp_path / "dead-letter", WalLimits(**limits),
                    WriterLimits(retry_initial=0.02, retry_max=0.1), drain_timeout=10)


def stored(store) -> tuple[int, int, set[str]]:
    count, distinct = store.rows("SELECT count(), uniqExact(SpanId) FROM otel_traces")[0]
    return count, distinct, {r[0] for r in store.rows("SELECT SpanId FROM otel_traces")}


async def send(pipeline, n: int, spans: int = 5, app: str = "app-1") -> set[str]:
    ids = set()
    for _ in range(n):
        request = make_request(spans)
        await pipeline.accept(app, "protobuf", request.SerializeToString(), spans)
        ids |= span_ids(request)
    return ids


async def wait_for_rows(store, expected: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await store.arows("SELECT count() FROM otel_traces"))[0][0] >= expected:
            return
        await asyncio.sleep(0.05)


def assert_exactly(store, ids: set[str]) -> None:
    count, distinct, found = stored(store)
    assert found == ids and count == distinct == len(ids)


@sync
async def test_accepted_requests_reach_the_store_once(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path)
    await pipeline.start()
    ids = set().union(*await asyncio.gather(*(send(pipeline, 10) for _ in range(4))))
    await pipeline.shutdown()
    await pipeline.shutdown()
    assert_exactly(store, ids)
    assert not list((tmp_path / "wal").glob("*.seg"))


@sync
async def test_a_transient_failure_is_retried(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path)
    failures = iter(range(3))

    def flaky():
        if next(failures, None) is not None:
            raise StoreUnavailable("connection refused")
    pipeline.writer.fault = flaky
    retries = sample("collector_clickhouse_insert_retries_total")
    await pipeline.start()
    ids = await send(pipeline, 5)
    await wait_for_rows(store, len(ids))
    await pipeline.shutdown()
    assert_exactly(store, ids)
    assert sample("collector_clickhouse_insert_retries_total") == retries + 3


@sync
async def test_the_same_segment_shipped_twice_is_stored_once(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path, segment_max_age=60)
    await pipeline.start()
    pipeline._task.cancel()  # ship by hand below
    ids = await send(pipeline, 6)
    await pipeline.wal.stop_appending()
    segment = await pipeline.wal.next_sealed()
    await pipeline.writer.ship(segment)
    await pipeline.writer.ship(segment)  # a retry after a timeout, or a replay after a crash
    assert_exactly(store, ids)
    await pipeline.wal.close()


@sync
async def test_large_segments_split_into_several_inserts_are_stored_once(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path, segment_max_age=60)
    pipeline.writer.limits = WriterLimits(insert_max_bytes=8192)
    await pipeline.start()
    pipeline._task.cancel()
    ids = await send(pipeline, 6, spans=20)
    await pipeline.wal.stop_appending()
    segment = await pipeline.wal.next_sealed()
    inserts = sample("collector_clickhouse_insert_seconds_count")
    await pipeline.writer.ship(segment)
    assert sample("collector_clickhouse_insert_seconds_count") - inserts >= 3
    await pipeline.writer.ship(segment)
    assert_exactly(store, ids)
    await pipeline.wal.close()


@sync
async def test_a_record_the_store_refuses_is_dead_lettered_and_the_rest_stored(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path, segment_max_age=0.3)
    dead = sample("collector_clickhouse_dead_lettered_batches_total")
    await pipeline.start()
    ids = await send(pipeline, 3)
    await pipeline.accept("app-1", "protobuf", b"\xff\xff\xff not protobuf", 1)
    ids |= await send(pipeline, 4)
    await pipeline.shutdown()
    assert_exactly(store, ids)
    assert sample("collector_clickhouse_dead_lettered_batches_total") == dead + 1
    letters = list((tmp_path / "dead-letter").glob("*.seg"))
    assert len(letters) == 1 and b"not protobuf" in letters[0].read_bytes()
    assert letters[0].with_suffix(".error").read_text()


@sync
async def test_an_abandoned_pipeline_is_replayed_by_the_next_one(store, tmp_path):
    first = make_pipeline(store, tmp_path)
    first.writer.fault = lambda: (_ for _ in ()).throw(StoreUnavailable("down"))
    await first.start()
    ids = await send(first, 8)
    # a crash: no shutdown, the tasks just stop and the lock goes with the process
    first._task.cancel()
    first.wal._committer.cancel()
    os.close(first.wal._lock_fd)
    await asyncio.sleep(0.05)
    assert stored(store)[0] == 0
    second = make_pipeline(store, tmp_path)
    await second.start()
    ids |= await send(second, 2)
    await second.shutdown()
    assert_exactly(store, ids)


@sync
async def test_an_outage_fills_the_budget_then_pushes_back_then_catches_up(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path, max_bytes=1 << 20, segment_max_bytes=64 << 10, inflight_max_bytes=1 << 20)
    down = True
    pipeline.writer.fault = lambda: down and (_ for _ in ()).throw(StoreUnavailable("down"))
    await pipeline.start()
    ids: set[str] = set()
    with pytest.raises(BackPressure):
        for _ in range(10_000):
            ids |= await send(pipeline, 1, spans=20)
    assert len(ids) > 200 and await pipeline.not_shedding_load()
    down = False
    await wait_for_rows(store, len(ids))
    await pipeline.shutdown()
    assert_exactly(store, ids)
    assert await pipeline.not_shedding_load() is None


def test_a_token_holds_when_clickhouse_cuts_one_insert_into_several_blocks(store):
    requests = [make_request(10) for _ in range(40)]
    body = b"".join(landing.encode_record(r.SerializeToString(), "app-1", time.time_ns()) for r in requests)
    settings = dict(landing.insert_settings("one-token"), max_insert_block_size=7, min_insert_block_size_rows=0)
    for _ in range(2):
        store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", settings)
    assert_exactly(store, set().union(*map(span_ids, requests)))


@sync
async def test_a_second_pipeline_on_the_same_log_is_refused_at_start_up(store, tmp_path):
    from collector.service import StartupError

    first = make_pipeline(store, tmp_path)
    await first.start()
    with pytest.raises(StartupError, match="wal_dir: .* in use"):
        await make_pipeline(store, tmp_path).start()
    await first.shutdown()


@sync
async def test_a_segment_of_json_and_protobuf_requests_is_stored_once_and_a_bad_one_set_aside(store, tmp_path):
    pipeline = make_pipeline(store, tmp_path, segment_max_age=60)
    await pipeline.start()
    pipeline._task.cancel()
    ids = await send(pipeline, 3)
    for _ in range(3):
        request = make_request(4)
        await pipeline.accept("app-1", "json", to_json(request), 4)
        ids |= span_ids(request)
    await pipeline.accept("app-1", "json", b"[1, 2]", 1)  # not an object: cannot be encoded
    await pipeline.wal.stop_appending()
    segment = await pipeline.wal.next_sealed()
    await pipeline.writer.ship(segment)
    await pipeline.writer.ship(segment)
    assert_exactly(store, ids)
    assert len(list((tmp_path / "dead-letter").glob("*-json-*.seg"))) == 1
    await pipeline.wal.close()


@sync
async def test_shutdown_with_the_store_down_keeps_the_log_for_the_next_start(store, tmp_path):
    first = make_pipeline(store, tmp_path)
    first.drain_timeout = 0.3
    first.writer.fault = lambda: (_ for _ in ()).throw(StoreUnavailable("down"))
    await first.start()
    ids = await send(first, 5)
    started = time.monotonic()
    await first.shutdown()
    assert time.monotonic() - started < 3 and list((tmp_path / "wal").glob("*.seg"))
    second = make_pipeline(store, tmp_path)
    await second.start()
    await second.shutdown()
    assert_exactly(store, ids)

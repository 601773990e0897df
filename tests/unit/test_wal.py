"""The write-ahead log on a real directory: framing, group commit, damage, sealing, limits."""
from __future__ import annotations

import asyncio
import errno
import functools
import os
import struct

import pytest

from collector import metrics, wal as wal_mod
from collector.sink import BackPressure, SinkUnavailable
from collector.wal import Wal, WalLimits, WalLocked
from collector.walformat import SEGMENT_HEADER_SIZE, Record, encode, scan, segment_header


def sync(test):
    """Run an async test on a fresh event loop (no plugin needed)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


def record(i: int, size: int = 100, fmt: str = "protobuf") -> Record:
    return Record(fmt, f"app-{i % 3}", 1_700_000_000_000_000_000 + i, i % 7, bytes([i % 251]) * size + struct.pack("<I", i))


def segment_bytes(records: list[Record]) -> bytes:
    return segment_header(b"\x01" * 16) + b"".join(encode(r) for r in records)


def corrupt_count() -> float:
    return metrics.REGISTRY.get_sample_value("collector_wal_corrupt_records_total") or 0.0


async def opened(path, **limits) -> Wal:
    w = Wal(path, WalLimits(**limits))
    await w.open()
    return w


async def drain(w: Wal) -> list[Record]:
    """Every record of every sealed segment, releasing them."""
    out = []
    while w.has_sealed():
        segment = await w.next_sealed()
        out.extend(w.read(segment).records)
        await w.release(segment)
    return out


# --- framing ---

def test_records_round_trip_through_a_segment():
    records = [record(i, size=i * 10) for i in range(20)] + [Record("json", "ünïcode-app", 5, 0, b"")]
    result = scan(segment_bytes(records))
    assert result.records == records and result.corrupt == 0 and result.segment_id == b"\x01" * 16


def test_a_torn_tail_is_skipped_and_counted_keeping_what_precedes_it():
    records = [record(i) for i in range(5)]
    data = segment_bytes(records)
    for cut in (1, 7, 13, 60):  # inside the payload, the frame, the magic
        result = scan(data[:-cut])
        assert result.records == records[:4] and result.corrupt == 1


def test_a_corrupted_record_in_the_middle_is_skipped_and_the_rest_kept():
    records = [record(i) for i in range(6)]
    data = bytearray(segment_bytes(records))
    third = SEGMENT_HEADER_SIZE + 2 * len(encode(records[0]))
    data[third + 40] ^= 0xFF  # a flipped byte in the third record's body
    result = scan(bytes(data))
    assert result.records == records[:2] + records[3:] and result.corrupt == 1 and result.corrupt_offsets == [third]


def test_a_corrupted_length_does_not_hide_the_records_after_it():
    records = [record(i) for i in range(4)]
    data = bytearray(segment_bytes(records))
    second = SEGMENT_HEADER_SIZE + len(encode(records[0]))
    data[second + 4:second + 8] = struct.pack("<I", 10_000_000)
    result = scan(bytes(data))
    assert result.records == [records[0]] + records[2:] and result.corrupt == 1


def test_a_file_without_a_header_yields_nothing_but_is_counted():
    assert scan(b"").corrupt == 0
    assert scan(b"garbage that is not a segment").corrupt == 1


# --- appending and replay ---

@sync
async def test_appends_are_on_disk_and_replayed_after_reopen(tmp_path):
    w = await opened(tmp_path)
    records = [record(i) for i in range(10)]
    for r in records:
        await w.append(r)
    # abandoned without close: the next owner must see every acknowledged record
    w._committer.cancel()
    os.close(w._lock_fd)
    w2 = await opened(tmp_path)
    assert await drain(w2) == records
    await w2.close()


@sync
async def test_concurrent_appends_share_fsyncs(tmp_path, monkeypatch):
    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(wal_mod.os, "fdatasync", lambda fd: (syncs.append(fd), real(fd)))
    w = await opened(tmp_path)
    records = [record(i) for i in range(200)]
    await asyncio.gather(*(w.append(r) for r in records))
    await w.close()
    assert len(syncs) < 20, f"{len(syncs)} fsyncs for 200 concurrent appends"
    w2 = await opened(tmp_path)
    assert sorted(await drain(w2), key=lambda r: r.received_ns) == records
    await w2.close()


@sync
async def test_segments_are_sealed_by_size(tmp_path):
    w = await opened(tmp_path, segment_max_bytes=4096)
    for i in range(40):
        await w.append(record(i, size=500))
    assert len(w._sealed) >= 4
    await w.close()
    records = await drain(await opened(tmp_path))
    assert records == [record(i, size=500) for i in range(40)]


@sync
async def test_segments_are_sealed_by_age(tmp_path):
    w = await opened(tmp_path, segment_max_age=0.05)
    await w.append(record(1))
    segment = await asyncio.wait_for(w.next_sealed(), 2)
    assert w.read(segment).records == [record(1)]
    await w.close()


@sync
async def test_a_released_segment_stays_shipped_across_a_crash_before_its_delete(tmp_path, monkeypatch):
    w = await opened(tmp_path, segment_max_age=0.01)
    await w.append(record(1))
    segment = await asyncio.wait_for(w.next_sealed(), 2)
    kept = segment.path.read_bytes()
    await w.release(segment)
    await w.close()
    segment.path.write_bytes(kept)  # as if the delete never happened
    w2 = await opened(tmp_path)
    assert not w2.has_sealed() and not segment.path.exists()
    await w2.append(record(2))
    await w2.close()
    assert await drain(await opened(tmp_path)) == [record(2)]


@sync
async def test_a_torn_segment_on_disk_keeps_its_intact_records(tmp_path):
    w = await opened(tmp_path)
    for i in range(3):
        await w.append(record(i))
    await w.close()
    (path,) = tmp_path.glob("*.seg")
    with open(path, "ab") as handle:
        handle.write(encode(record(99))[:-20])  # a write the crash cut short
    before = corrupt_count()
    w2 = await opened(tmp_path)
    assert await drain(w2) == [record(i) for i in range(3)]
    assert corrupt_count() == before + 1
    await w2.close()


@sync
async def test_the_disk_budget_pushes_back_and_frees_up_after_release(tmp_path):
    w = await opened(tmp_path, max_bytes=64 * 1024, segment_max_bytes=16 * 1024)
    accepted = 0
    with pytest.raises(BackPressure) as refused:
        for i in range(200):
            await w.append(record(i, size=1000))
            accepted += 1
    assert 50 <= accepted < 64 and refused.value.retry_after > 0
    assert w.over_budget()
    with pytest.raises(BackPressure):  # even a small one, until shipping makes room
        await w.append(record(1, size=1))
    await drain(w)
    assert not w.over_budget()
    await w.append(record(500, size=1000))
    await w.close()


@sync
async def test_the_inflight_limit_pushes_back(tmp_path):
    w = await opened(tmp_path, inflight_max_bytes=10_000)
    results = await asyncio.gather(*(w.append(record(i, size=1000)) for i in range(30)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BackPressure)]
    assert refused and len(refused) < 30 and all(r is None or isinstance(r, BackPressure) for r in results)
    await w.close()


@sync
async def test_a_full_disk_is_back_pressure_not_a_false_ack(tmp_path, monkeypatch):
    w = await opened(tmp_path)
    await w.append(record(1))
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data)[:10])  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(wal_mod.os, "write", full)
    with pytest.raises(BackPressure):
        await w.append(record(2))
    assert "No space" in w.last_error
    monkeypatch.setattr(wal_mod.os, "write", real_write)
    assert await w.writable() is None  # the probe finds room again: ready without waiting for traffic
    await w.append(record(3))  # the disk has room again
    await w.close()
    before = corrupt_count()
    assert await drain(await opened(tmp_path)) == [record(1), record(3)]
    assert corrupt_count() == before  # the partial write was taken back


@sync
async def test_other_write_errors_make_the_log_unavailable(tmp_path, monkeypatch):
    w = await opened(tmp_path)
    monkeypatch.setattr(wal_mod.os, "fdatasync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(SinkUnavailable):
        await w.append(record(1))
    monkeypatch.setattr(wal_mod.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    assert "I/O error" in await w.writable()
    await w.close()


@sync
async def test_a_second_process_cannot_share_the_directory(tmp_path):
    w = await opened(tmp_path)
    with pytest.raises(WalLocked, match="wal_dir"):
        await opened(tmp_path)
    await w.close()
    await (await opened(tmp_path)).close()


@sync
async def test_appends_after_close_are_refused(tmp_path):
    w = await opened(tmp_path)
    await w.close()
    await w.close()
    with pytest.raises(SinkUnavailable):
        await w.append(record(1))


@sync
async def test_gauges_follow_what_the_log_holds(tmp_path):
    def gauge(name, **labels):
        return metrics.REGISTRY.get_sample_value(name, labels or None)
    w = await opened(tmp_path, max_bytes=4 << 20, segment_max_bytes=4096)
    for i in range(12):
        await w.append(Record("protobuf", "app", 1, 1, b"x" * 1000))  # received long ago
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("*.seg"))
    assert gauge("collector_wal_bytes") == on_disk == gauge("otelcol_exporter_queue_size", exporter="clickhouse")
    assert gauge("collector_wal_segments") == len(list(tmp_path.glob("*.seg"))) > 1
    assert gauge("otelcol_exporter_queue_capacity", exporter="clickhouse") == 4 << 20
    assert gauge("collector_wal_oldest_unshipped_age_seconds") > 1e9
    await w.stop_appending()
    await drain(w)
    assert gauge("collector_wal_bytes") == 0 and gauge("collector_wal_segments") == 0
    assert gauge("collector_wal_oldest_unshipped_age_seconds") == 0
    await w.close()


@sync
async def test_while_the_writer_is_behind_the_active_segment_grows_instead_of_sealing(tmp_path):
    w = await opened(tmp_path, segment_max_age=0.02)
    await w.append(record(1))
    first = await asyncio.wait_for(w.next_sealed(), 2)
    for i in range(2, 6):
        await w.append(record(i))
        await asyncio.sleep(0.03)
    assert list(w._sealed) == [first]  # older than the age limit, but the writer is busy
    await w.release(first)
    second = await asyncio.wait_for(w.next_sealed(), 2)  # sealed as soon as the writer is free
    assert w.read(second).records == [record(i) for i in range(2, 6)]
    await w.close()

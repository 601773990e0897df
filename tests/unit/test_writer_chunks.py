"""How a segment is cut into inserts, and the tokens that make a repeat harmless."""
import asyncio
from pathlib import Path

from collector.wal import Segment
from collector.walformat import Record
from collector.writer import chunks


def rec(i: int, fmt: str = "protobuf", size: int = 100) -> Record:
    return Record(fmt, "app", i, 1, bytes([i % 256]) * size)


def test_each_format_gets_its_own_bounded_chunks_in_order():
    records = [rec(i, "protobuf" if i % 3 else "json") for i in range(30)]
    cut = chunks("seg", records, max_bytes=450)
    assert {c.fmt for c in cut} == {"protobuf", "json"}
    assert all(sum(len(r.body) for r in c.records) <= 450 for c in cut)
    for fmt in ("protobuf", "json"):
        assert [r for c in cut if c.fmt == fmt for r in c.records] == [r for r in records if r.fmt == fmt]


def test_tokens_are_the_same_on_a_replay_and_distinct_within_a_segment():
    records = [rec(i) for i in range(20)]
    first, again = chunks("seg-a", records, 500), chunks("seg-a", records, 500)
    assert [c.token for c in first] == [c.token for c in again]
    assert len({c.token for c in first}) == len(first) > 1
    assert not {c.token for c in first} & {c.token for c in chunks("seg-b", records, 500)}


def test_halves_cover_the_chunk_with_tokens_of_their_own():
    (chunk,) = chunks("seg", [rec(i) for i in range(5)], 10_000)
    left, right = chunk.halves()
    assert left.records + right.records == chunk.records
    assert len({chunk.token, left.token, right.token, *(h.token for h in right.halves())}) == 5


def test_a_record_larger_than_the_limit_is_a_chunk_of_its_own():
    cut = chunks("seg", [rec(1, size=50), rec(2, size=5000), rec(3, size=50)], 1000)
    assert [len(c.records) for c in cut] == [1, 1, 1]


# --- the insert size a segment is cut with survives a change of the setting ---

def with_writer(tmp_path, insert_max_bytes: int, use) -> None:
    """Opens the log in ``tmp_path``, calls ``use(writer)`` (a coroutine), closes the log (no store needed)."""
    from collector.wal import Wal, WalLimits
    from collector.writer import Writer, WriterLimits

    async def run():
        wal = Wal(tmp_path / "wal", WalLimits(segment_max_age=60))
        await wal.open()
        try:
            await use(Writer(wal, None, tmp_path / "dead", WriterLimits(insert_max_bytes=insert_max_bytes)))
        finally:
            await wal.close()
    asyncio.run(run())


def segment(seq: int) -> Segment:
    return Segment(seq, Path(f"{seq:016d}.seg"))


def test_a_segment_begun_with_one_insert_size_is_resumed_with_it_after_the_setting_changes(tmp_path):
    async def before(writer):
        assert writer._cut_size(segment(7)) == 4096  # shipping began, then the process died

    async def after(writer):  # restarted with a larger insert size
        assert writer._cut_size(segment(7)) == 4096  # same cuts, same tokens: nothing stored twice
        assert writer._cut_size(segment(8)) == 1 << 20  # a segment not begun takes the new size
        assert writer._cut_size(segment(8)) == 1 << 20
    with_writer(tmp_path, 4096, before)
    with_writer(tmp_path, 1 << 20, after)


def test_a_fresh_log_is_cut_with_the_configured_size(tmp_path):
    async def use(writer):
        assert writer._cut_size(segment(1)) == 8192
    with_writer(tmp_path, 8192, use)

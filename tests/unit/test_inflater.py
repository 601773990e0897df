"""Request bodies are inflated chunk by chunk and never past the limit."""
from __future__ import annotations

import gzip
import zlib

import pytest

from collector.receiver_http import Inflater, _zstd
from collector.rpc_status import Refusal

PAYLOAD = b"otlp " * 2000
COMPRESS = {"gzip": gzip.compress, "deflate": zlib.compress, "zstd": lambda data: _zstd.compress(data)}


def inflate(encoding: str, body: bytes, limit: int, chunk: int = 7) -> bytes:
    inflater = Inflater(encoding, limit)
    out = b"".join(part for i in range(0, len(body), chunk) for part in inflater.feed(body[i:i + chunk]))
    inflater.finish()
    return out


@pytest.mark.parametrize("encoding", sorted(COMPRESS))
def test_round_trip_in_small_chunks(encoding):
    assert inflate(encoding, COMPRESS[encoding](PAYLOAD), len(PAYLOAD)) == PAYLOAD


@pytest.mark.parametrize("encoding", sorted(COMPRESS))
def test_a_bomb_stops_at_the_limit(encoding):
    bomb = COMPRESS[encoding](bytes(20_000_000))
    inflater = Inflater(encoding, 100_000)
    with pytest.raises(Refusal) as info:
        for i in range(0, len(bomb), 4096):
            inflater.feed(bomb[i:i + 4096])
    assert info.value.kind == "too_large" and inflater.size <= 100_001


@pytest.mark.parametrize("encoding", sorted(COMPRESS))
def test_truncated_or_garbage_bodies_are_invalid(encoding):
    with pytest.raises(Refusal) as info:
        inflate(encoding, COMPRESS[encoding](PAYLOAD)[:-9], len(PAYLOAD))
    assert info.value.kind == "invalid"
    with pytest.raises(Refusal) as info:
        inflate(encoding, b"this is not compressed at all", len(PAYLOAD))
    assert info.value.kind == "invalid"


def test_unknown_encoding_is_unsupported():
    with pytest.raises(Refusal) as info:
        Inflater("br", 10)
    assert info.value.kind == "unsupported"

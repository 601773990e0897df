"""Cost per span of the receiver's checks (decode, validate, truncate), without the store.

    .venv/bin/python benchmarks/receiver_checks.py [spans-per-request] [rounds]

Prints µs per span for protobuf and JSON bodies of Express-like HTTP spans, and
for the HTTP receiver end to end on loopback with a sink that keeps nothing
(server-side CPU time of the process divided by spans).
"""
from __future__ import annotations

import asyncio
import gzip
import sys
import time

from aiohttp import ClientSession, web

from collector.config import Config
from collector.otlp_checks import Limits, check_json, check_protobuf
from collector.receiver import Ingest
from collector.receiver_http import HttpReceiver
from collector.service import HttpServer
from tests.harness import free_port
from tests.otlp_factory import make_request, to_json


def per_span(fn, body: bytes, spans: int, rounds: int) -> float:
    fn(body, Limits())
    started = time.perf_counter()
    for _ in range(rounds):
        fn(body, Limits())
    return (time.perf_counter() - started) / rounds / spans * 1e6


class NullSink:
    async def accept(self, app_id, fmt, body, spans):
        pass


class AnyKey:
    def app_for(self, key):
        return "bench"


async def http_end_to_end(body: bytes, spans: int, rounds: int) -> float:
    ingest = Ingest(Config(), AnyKey(), NullSink())
    app = web.Application()
    app.add_routes(HttpReceiver(ingest).routes())
    server = HttpServer(app, "127.0.0.1", free_port(), "http_port", auto_decompress=False)
    await server.start()
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", "x-api-key": "snk_live_x"}
    try:
        async with ClientSession() as session:
            cpu = time.process_time()
            for _ in range(rounds):
                async with session.post(f"http://127.0.0.1:{server.port}/v1/traces", data=body, headers=headers) as resp:
                    assert resp.status == 200
                    await resp.read()
            return (time.process_time() - cpu) / rounds / spans * 1e6
    finally:
        await server.shutdown()


def main() -> None:
    spans = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    request = make_request(spans)
    pb, js = request.SerializeToString(), to_json(request)
    print(f"{spans} spans/request, {len(pb) / spans:.0f} B/span protobuf, {len(js) / spans:.0f} B/span JSON")
    print(f"check_protobuf: {per_span(check_protobuf, pb, spans, rounds):.2f} µs/span")
    print(f"check_json:     {per_span(check_json, js, spans, rounds):.2f} µs/span")
    e2e = asyncio.run(http_end_to_end(gzip.compress(pb), spans, rounds))
    print(f"HTTP protobuf+gzip, client and server in this process: {e2e:.2f} µs CPU/span (upper bound for the server)")


if __name__ == "__main__":
    main()

"""Cost per span of the receivers, without the store.

    PYTHONPATH=. .venv/bin/python benchmarks/receiver_checks.py [spans-per-request] [requests]

Prints µs per span of the checks alone (decode, validate, truncate) for
protobuf and JSON bodies of Express-like HTTP spans (JSON both through
``check_json`` and through the full walk it falls back to for a body that needs
a change, the only path before the fast check), then the CPU time per span
of a receiver process (HTTP protobuf+gzip, HTTP JSON, HTTP JSON through the
full walk in a second process, gRPC) serving a client in
another process, with a sink that keeps nothing: the receiving cost the
pipeline adds its own to.
"""
from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import os
import sys
import time

import grpc
from aiohttp import ClientSession, web

from collector import receiver
from collector.config import Config
from collector.otlp_checks import Limits, _walk_json, check_json, check_protobuf
from collector.receiver import Ingest
from collector.receiver_grpc import SERVICE, GrpcReceiver
from collector.receiver_http import HttpReceiver
from collector.service import HttpServer
from tests.harness import free_port
from tests.otlp_factory import make_request, to_json


def per_span(fn, body: bytes, spans: int, rounds: int) -> float:
    """CPU time of this process (not wall time, which other processes inflate)."""
    fn(body, Limits())
    started = time.process_time()
    for _ in range(rounds):
        fn(body, Limits())
    return (time.process_time() - started) / rounds / spans * 1e6


class NullSink:
    async def accept(self, app_id, fmt, body, spans):
        pass


class AnyKey:
    def app_for(self, key):
        return "bench"


async def serve(http_port: int, grpc_port: int) -> None:
    ingest = Ingest(Config(), AnyKey(), NullSink())
    app = web.Application()
    app.add_routes(HttpReceiver(ingest).routes())
    await HttpServer(app, "127.0.0.1", http_port, "http_port", auto_decompress=False).start()
    await GrpcReceiver(ingest, "127.0.0.1", grpc_port).start()
    await asyncio.Event().wait()


def server_main(http_port: int, grpc_port: int, walk_json: bool = False) -> None:
    if walk_json:  # the reference: every JSON body walked in Python
        receiver.CHECKS["json"] = _walk_json
    asyncio.run(serve(http_port, grpc_port))


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def http_client(port: int, body: bytes, headers: dict, requests: int) -> None:
    async with ClientSession() as session:
        for _ in range(requests):
            async with session.post(f"http://127.0.0.1:{port}/v1/traces", data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()


async def grpc_client(port: int, body: bytes, requests: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/Export")
        for _ in range(requests):
            await call(body, metadata=(("x-api-key", "snk_live_x"),))


def main() -> None:
    spans = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    request = make_request(spans)
    pb, js = request.SerializeToString(), to_json(request)
    print(f"{spans} spans/request, {len(pb) / spans:.0f} B/span protobuf, {len(js) / spans:.0f} B/span JSON")
    print(f"checks only, protobuf: {per_span(check_protobuf, pb, spans, 20):.2f} µs/span")
    print(f"checks only, JSON:     {per_span(check_json, js, spans, 20):.2f} µs/span")
    print(f"checks only, JSON, full walk: {per_span(_walk_json, js, spans, 20):.2f} µs/span")

    spawn = multiprocessing.get_context("spawn")
    ports = {walk: (free_port(), free_port()) for walk in (False, True)}
    servers = {walk: spawn.Process(target=server_main, args=(*ports[walk], walk), daemon=True) for walk in ports}
    for server in servers.values():
        server.start()
    time.sleep(3)
    key = {"x-api-key": "snk_live_x"}
    json_headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", **key}
    (http_port, grpc_port), walk_port = ports[False], ports[True][0]
    runs = {
        "HTTP protobuf+gzip": (False, http_client(http_port, gzip.compress(pb), {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **key}, requests)),
        "HTTP JSON+gzip": (False, http_client(http_port, gzip.compress(js), json_headers, requests)),
        "HTTP JSON+gzip, full walk": (True, http_client(walk_port, gzip.compress(js), json_headers, requests)),
        "gRPC protobuf": (False, grpc_client(grpc_port, pb, requests)),
    }
    try:
        for name, (walk, run) in runs.items():
            pid = servers[walk].pid
            before, started = cpu_seconds(pid), time.perf_counter()
            asyncio.run(run)
            cpu, wall = cpu_seconds(pid) - before, time.perf_counter() - started
            total = spans * requests
            print(f"receiver process, {name}: {cpu / total * 1e6:.2f} µs CPU/span, {total / wall:,.0f} spans/s wall (one client)")
    finally:
        for server in servers.values():
            server.terminate()
            server.join()

if __name__ == "__main__":
    main()

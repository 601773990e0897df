"""OTLP load generator: pre-encoded Express-like requests to a collector on loopback.

Run it in its own process so its CPU is not the collector's. It sends 1,000-span
requests (fresh random ids each, see ``otlp_pool``) over OTLP/HTTP protobuf,
OTLP/HTTP JSON or OTLP/gRPC, gzipped or not, with N connections, either as fast
as the collector acknowledges (closed loop, one request in flight per connection)
or at a fixed offered rate (open loop: latency counts from when a request was
due, so a stalled collector is not hidden). It stops by itself: no new request
after ``--duration`` seconds or ``--max-requests``, then at most ``--drain``
seconds for the ones in flight; a watchdog ends the process if that fails.

    python -m benchmarks.loadgen --url http://127.0.0.1:4318 --key snk_live_... \\
        --transport http --encoding protobuf [--gzip] [--rate SPANS_PER_S] --duration 10 --connections 4
"""
from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from benchmarks import common
from benchmarks.otlp_pool import Pool

GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}


@dataclass
class Settings:
    url: str
    key: str = ""
    transport: str = "http"  # http or grpc
    encoding: str = "protobuf"  # protobuf or json (http only)
    gzip: bool = False
    rate: float = 0.0  # offered spans/s; 0 = as fast as acknowledged
    duration: float = 10.0
    connections: int = 4
    max_requests: int = 100_000
    drain: float = 10.0
    spans: int = 1000
    gzip_pool: int = 64


@dataclass
class Tally:
    sent: int = 0
    acked_spans: int = 0
    rejected_spans: int = 0
    skipped: int = 0  # due under a fixed rate but every connection was busy and the backlog full
    latencies: list = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


class HttpSender:
    def __init__(self, s: Settings):
        import aiohttp

        self._aiohttp = aiohttp
        self.url = s.url.rstrip("/") + "/v1/traces"
        self.headers = {"Content-Type": CONTENT_TYPES[s.encoding]}
        if s.gzip:
            self.headers["Content-Encoding"] = "gzip"
        if s.key:
            self.headers["Authorization"] = f"Bearer {s.key}"
        self.json = s.encoding == "json"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=30), skip_auto_headers=("User-Agent",),
        )

    async def send(self, body: bytes) -> tuple[str, int]:
        """(outcome, rejected spans): outcome "ok" or the status."""
        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as resp:
                payload = await resp.read()
                if resp.status != 200:
                    return str(resp.status), 0
                return "ok", _rejected(payload, self.json)
        except (self._aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return type(exc).__name__, 0

    async def close(self) -> None:
        await self.session.close()


class GrpcSender:
    def __init__(self, s: Settings):
        import grpc

        self._grpc = grpc
        target = s.url.split("://", 1)[-1].rstrip("/")
        # One channel per connection, each with its own subchannel, so N connections are N sockets.
        self.channels = [
            grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1),
                                                       ("grpc.max_send_message_length", 64 << 20)])
            for _ in range(s.connections)
        ]
        self.calls = [c.unary_unary(GRPC_METHOD) for c in self.channels]
        self.metadata = (("authorization", f"Bearer {s.key}"),) if s.key else ()
        self.compression = grpc.Compression.Gzip if s.gzip else grpc.Compression.NoCompression
        self._turn = 0

    async def send(self, body: bytes) -> tuple[str, int]:
        self._turn += 1
        call = self.calls[self._turn % len(self.calls)]
        try:
            payload = await call(body, metadata=self.metadata, compression=self.compression, timeout=30)
            return "ok", _rejected(payload, False)
        except self._grpc.aio.AioRpcError as exc:
            return exc.code().name, 0

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def _rejected(payload: bytes, is_json: bool) -> int:
    if not payload:
        return 0
    if is_json:
        import orjson

        try:
            return int(orjson.loads(payload).get("partialSuccess", {}).get("rejectedSpans", 0))
        except (ValueError, AttributeError):
            return 0
    response = ExportTraceServiceResponse()
    response.ParseFromString(payload)
    return response.partial_success.rejected_spans


async def _one(sender, body: bytes, due: float, spans: int, tally: Tally) -> None:
    outcome, rejected = await sender.send(body)
    tally.latencies.append(time.perf_counter() - due)
    if outcome == "ok":
        tally.acked_spans += spans - rejected
        tally.rejected_spans += rejected
    else:
        tally.errors[outcome] += 1


async def _closed_loop(s: Settings, sender, pool: Pool, tally: Tally, stop_at: float) -> None:
    async def worker():
        while time.perf_counter() < stop_at and tally.sent < s.max_requests:
            tally.sent += 1
            body = pool.next()
            await _one(sender, body, time.perf_counter(), s.spans, tally)
            if tally.errors and tally.acked_spans == 0 and sum(tally.errors.values()) > 50:
                return  # everything fails: no point hammering
    await asyncio.gather(*(worker() for _ in range(s.connections)))


async def _open_loop(s: Settings, sender, pool: Pool, tally: Tally, stop_at: float) -> None:
    interval = s.spans / s.rate
    slots = asyncio.Semaphore(s.connections)
    backlog = 0
    tasks = set()

    async def due_request(body: bytes, due: float):
        nonlocal backlog
        async with slots:
            backlog -= 1
            await _one(sender, body, due, s.spans, tally)

    start = time.perf_counter()
    k = 0
    while tally.sent < s.max_requests:
        due = start + k * interval
        if due >= stop_at:
            break
        k += 1
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if backlog >= 4 * s.connections:
            tally.skipped += 1
            continue
        tally.sent += 1
        backlog += 1
        task = asyncio.create_task(due_request(pool.next(), due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks))


async def run(s: Settings) -> dict:
    encoding = "protobuf" if s.transport == "grpc" else s.encoding
    # gRPC compresses in its core, per message; the pool only pre-gzips for HTTP.
    pool = Pool(encoding, spans=s.spans, gzip_pool=s.gzip_pool if s.gzip and s.transport == "http" else 0)
    sender = GrpcSender(s) if s.transport == "grpc" else HttpSender(s)
    tally = Tally()
    cpu0, started = time.process_time(), time.perf_counter()
    try:
        body = _closed_loop if s.rate <= 0 else _open_loop
        await asyncio.wait_for(body(s, sender, pool, tally, started + s.duration), s.duration + s.drain)
    except asyncio.TimeoutError:
        tally.errors["unfinished_at_drain"] += 1
    finally:
        elapsed = time.perf_counter() - started
        await sender.close()
    return _figures(s, tally, elapsed, time.process_time() - cpu0, len(pool.templates[0].body))


def _figures(s: Settings, tally: Tally, elapsed: float, cpu: float, body_bytes: int) -> dict:
    ms = [v * 1000 for v in tally.latencies]
    return {
        "offered_spans_per_s": s.rate or None,
        "seconds": round(elapsed, 3), "requests": tally.sent, "acked_spans": tally.acked_spans,
        "rejected_spans": tally.rejected_spans, "acked_spans_per_s": round(tally.acked_spans / elapsed),
        "p50_ms": round(common.percentile(ms, 50), 2), "p99_ms": round(common.percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else None, "errors": dict(tally.errors), "skipped": tally.skipped,
        "generator_cpu_s": round(cpu, 3), "request_bytes": body_bytes,
    }


def _watchdog(seconds: float) -> None:
    """End the process if the run overstays its bound (a hung socket must not hang a benchmark)."""
    timer = threading.Timer(seconds, lambda: os._exit(3))
    timer.daemon = True
    timer.start()


def parse(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="http://127.0.0.1:4318 (HTTP) or 127.0.0.1:4317 (gRPC)")
    p.add_argument("--key", default="", help="runtime key, sent as Authorization: Bearer")
    p.add_argument("--transport", choices=("http", "grpc"), default="http")
    p.add_argument("--encoding", choices=("protobuf", "json"), default="protobuf")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--rate", type=float, default=0.0, help="offered spans/s (default: as fast as acknowledged)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending (at most 120)")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--max-requests", type=int, default=100_000)
    p.add_argument("--drain", type=float, default=10.0, help="seconds to wait for requests in flight at the end")
    p.add_argument("--spans", type=int, default=1000, help="spans per request")
    common.add_results_argument(p)
    args = p.parse_args(argv)
    if not 0 < args.duration <= 120:
        p.error("--duration must be in (0, 120] seconds")
    if not args.url.split("://", 1)[-1].startswith(("127.", "localhost", "[::1]")):
        p.error("--url must be on loopback")
    fields = {k: v for k, v in vars(args).items() if k in Settings.__dataclass_fields__}
    return Settings(**fields), args


def main(argv: list[str] | None = None) -> int:
    settings, args = parse(argv)
    _watchdog(settings.duration + settings.drain + 30)
    figures = asyncio.run(run(settings))
    config = {k: v for k, v in asdict(settings).items() if k != "key"}
    common.record("loadgen", figures, config, args.results)
    return 0 if figures["acked_spans"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

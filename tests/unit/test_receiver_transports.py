"""The transports in process: back-pressure, outages, clients that go away, metrics.

The receivers run on real sockets; the sink is a stand-in that refuses as told.
"""
from __future__ import annotations

import asyncio

import grpc
import pytest
from aiohttp import ClientSession, web
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.config import Config
from collector.receiver import Ingest
from collector.receiver_grpc import SERVICE, GrpcReceiver
from collector.receiver_http import HttpReceiver
from collector.service import HttpServer
from collector.sink import BackPressure, SinkUnavailable
from tests.harness import free_port
from tests.otlp_factory import make_request

KEY = "snk_live_unit"


class Keys:
    def app_for(self, key: str):
        return "app" if key == KEY else None


class Sink:
    def __init__(self):
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.accepted: list[tuple] = []

    async def accept(self, app_id, fmt, body, spans):
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.accepted.append((app_id, fmt, spans))


async def running(sink: Sink, **settings):
    ingest = Ingest(Config(**settings), Keys(), sink)
    app = web.Application()
    app.add_routes(HttpReceiver(ingest).routes())
    http = HttpServer(app, "127.0.0.1", free_port(), "http_port", auto_decompress=False)
    grpc_receiver = GrpcReceiver(ingest, "127.0.0.1", free_port())
    await http.start()
    await grpc_receiver.start()
    return http, grpc_receiver


async def post(session: ClientSession, port: int, spans: int = 3):
    url = f"http://127.0.0.1:{port}/v1/traces"
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {KEY}"}
    async with session.post(url, data=make_request(spans).SerializeToString(), headers=headers) as resp:
        return resp.status, resp.headers, await resp.read()


async def export_grpc(port: int):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/Export")
        try:
            return grpc.StatusCode.OK, await call(make_request(2).SerializeToString(), metadata=(("x-api-key", KEY),))
        except grpc.aio.AioRpcError as exc:
            return exc.code(), dict(exc.trailing_metadata() or ())


def retry_delay(status: status_pb2.Status) -> float:
    info = error_details_pb2.RetryInfo()
    assert status.details and status.details[0].Unpack(info)
    return info.retry_delay.ToNanoseconds() / 1e9


@pytest.mark.parametrize("error,http_status,retry", [
    (BackPressure("log full", retry_after=7), 429, 7.0),
    (SinkUnavailable("disk gone"), 503, 5.0),
])
def test_sink_refusals_tell_clients_when_to_retry(error, http_status, retry):
    async def scenario():
        sink = Sink()
        http, receiver = await running(sink)
        try:
            async with ClientSession() as session:
                assert (await post(session, http.port))[0] == 200
                sink.error = error
                status, headers, body = await post(session, http.port)
                assert status == http_status and headers["Retry-After"] == str(int(retry))
                assert retry_delay(status_pb2.Status.FromString(body)) == retry
                code, trailers = await export_grpc(receiver.port)
                assert code == grpc.StatusCode.UNAVAILABLE
                assert retry_delay(status_pb2.Status.FromString(trailers["grpc-status-details-bin"])) == retry
                sink.error = None
                assert (await post(session, http.port))[0] == 200
                code, answer = await export_grpc(receiver.port)
                assert code == grpc.StatusCode.OK and not ExportTraceServiceResponse.FromString(answer).HasField("partial_success")
        finally:
            await receiver.shutdown()
            await http.shutdown()
        assert sink.accepted == [("app", "protobuf", 3), ("app", "protobuf", 3), ("app", "protobuf", 2)]

    asyncio.run(scenario())


def test_requests_over_the_concurrency_limit_are_told_to_retry():
    async def scenario():
        sink = Sink()
        sink.gate = asyncio.Event()
        http, receiver = await running(sink, max_concurrent_requests=1)
        try:
            async with ClientSession() as session:
                first = asyncio.create_task(post(session, http.port))
                while not receiver.ingest.inflight:
                    await asyncio.sleep(0.01)
                status, headers, _ = await post(session, http.port)
                assert status == 429 and headers["Retry-After"] == "1"
                assert (await export_grpc(receiver.port))[0] == grpc.StatusCode.UNAVAILABLE
                sink.gate.set()
                assert (await first)[0] == 200
        finally:
            await receiver.shutdown()
            await http.shutdown()
        assert len(sink.accepted) == 1

    asyncio.run(scenario())


def sample(name: str, **labels) -> float:
    from collector.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outcomes_are_counted():
    async def scenario():
        sink = Sink()
        http, receiver = await running(sink)
        try:
            async with ClientSession() as session:
                await post(session, http.port, spans=4)
                url = f"http://127.0.0.1:{http.port}/v1/traces"
                async with session.post(url, data=b"x", headers={"Content-Type": "application/x-protobuf", "x-api-key": "snk_live_bad"}) as resp:
                    assert resp.status == 401
                sink.error = BackPressure("full", 1)
                await post(session, http.port, spans=2)
        finally:
            await receiver.shutdown()
            await http.shutdown()

    before = {
        "accepted": sample("otelcol_receiver_accepted_spans_total", receiver="otlp", transport="http"),
        "refused": sample("otelcol_receiver_refused_spans_total", receiver="otlp", transport="http"),
        "auth": sample("collector_auth_failures_total", surface="http", reason="unknown"),
        "pushed": sample("collector_receiver_requests_total", transport="http", outcome="backpressure"),
    }
    asyncio.run(scenario())
    assert sample("otelcol_receiver_accepted_spans_total", receiver="otlp", transport="http") == before["accepted"] + 4
    assert sample("otelcol_receiver_refused_spans_total", receiver="otlp", transport="http") == before["refused"] + 2
    assert sample("collector_auth_failures_total", surface="http", reason="unknown") == before["auth"] + 1
    assert sample("collector_receiver_requests_total", transport="http", outcome="backpressure") == before["pushed"] + 1


def test_a_client_gone_mid_body_is_counted_and_nothing_is_stored():
    async def scenario():
        sink = Sink()
        http, receiver = await running(sink)
        head = f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nx-api-key: {KEY}\r\n"
        try:
            for rest in ("Content-Length: 1000\r\n\r\nabcdefghij", "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"):
                _, writer = await asyncio.open_connection("127.0.0.1", http.port)
                writer.write((head + rest).encode())
                await writer.drain()
                await asyncio.sleep(0.1)
                writer.close()
            for _ in range(50):
                if not receiver.ingest.inflight:
                    break
                await asyncio.sleep(0.02)
            assert receiver.ingest.inflight == 0
            async with ClientSession() as session:
                assert (await post(session, http.port))[0] == 200
        finally:
            await receiver.shutdown()
            await http.shutdown()
        assert sink.accepted == [("app", "protobuf", 3)]

    before = sample("collector_receiver_requests_total", transport="http", outcome="invalid")
    asyncio.run(scenario())
    assert sample("collector_receiver_requests_total", transport="http", outcome="invalid") == before + 2

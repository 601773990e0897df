"""Helpers for API tests: the API app on a real socket in-process, a tiny JSON client,
and OTLP traffic at chosen times."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from aiohttp import web

from collector import exposition, landing
from collector.api import Api
from collector.config import Config
from tests.otlp_factory import kv, make_request

NS = 1_000_000_000


def get(base_url: str, path: str, token: str | None = None, /, **params):
    """(status, JSON body, headers) of a GET; never raises on an HTTP error status."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    request = urllib.request.Request(base_url + path + ("?" + query if query else ""))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.load(resp), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc), dict(exc.headers)


class InProcessApi:
    """The API (auth, limits, handlers) on 127.0.0.1 in a thread of this process,
    reading ``store`` (the in-process tests' fresh store)."""

    def __init__(self, store, **settings):
        self.config = Config(**settings)
        self.store = store
        self.api = Api(self.config, store)
        self.loop = asyncio.new_event_loop()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self):
        app = self.api_app = web.Application()
        exposition.install(app)
        self.api.install(app)
        await self.api.start()
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self):
        await self.runner.cleanup()
        await self.api.shutdown()

    def __enter__(self) -> "InProcessApi":
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def reload_tokens(self) -> None:
        asyncio.run_coroutine_threadsafe(self.api.tokens.reload(), self.loop).result(30)

    def get(self, path: str, token: str | None = None, /, **params):
        return get(self.url, path, token, **params)


def insert(store, requests, app_id: str = "shop", token: str | None = None) -> None:
    body = b"".join(landing.encode_record(r.SerializeToString(), app_id, time.time_ns()) for r in requests)
    store.raw_insert(landing.LANDING_TABLE, body, "Protobuf", landing.insert_settings(token))


def at(start_ns: int, spans: int = 1, **kwargs):
    """``spans`` server spans starting at ``start_ns`` (1 µs apart), one trace each."""
    return make_request(spans, start_ns=start_ns, **kwargs)


def day_base(hours: int = 10) -> int:
    """Yesterday at ``hours``:00 UTC, in ns: recent enough for every retention."""
    now = time.time()
    return (int(now // 86400) - 1) * 86400 * NS + hours * 3600 * NS


def tree_request(trace_id: bytes, start_ns: int, app_error: bool = False):
    """One trace: a server root, two children (one with a child), events and a link."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    request = make_request(0)
    spans = request.resource_spans[0].scope_spans[0].spans
    ids = [os.urandom(8) for _ in range(4)]
    layout = [(ids[0], b"", "GET /cart", Span.SPAN_KIND_SERVER, 0, 9_000_000),
              (ids[1], ids[0], "SELECT cart", Span.SPAN_KIND_CLIENT, 2_000_000, 1_000_000),
              (ids[2], ids[0], "render", Span.SPAN_KIND_INTERNAL, 1_000_000, 5_000_000),
              (ids[3], ids[2], "template", Span.SPAN_KIND_INTERNAL, 1_500_000, 1_000_000)]
    for span_id, parent, name, kind, offset, duration in layout:
        span = spans.add()
        span.trace_id, span.span_id, span.parent_span_id = trace_id, span_id, parent
        span.name, span.kind = name, kind
        span.start_time_unix_nano = start_ns + offset
        span.end_time_unix_nano = start_ns + offset + duration
    root = spans[0]
    root.attributes.extend([kv("http.method", "GET"), kv("http.route", "/cart"), kv("http.target", "/cart?x=1"),
                            kv("http.status_code", 500 if app_error else 200), kv("net.peer.ip", "192.0.2.1")])
    event = root.events.add()
    event.time_unix_nano, event.name = start_ns + 3_000_000, "exception"
    event.attributes.extend([kv("exception.type", "KeyError"), kv("exception.message", "cart 7")])
    link = root.links.add()
    link.trace_id, link.span_id = os.urandom(16), os.urandom(8)
    return request, [i.hex() for i in ids]

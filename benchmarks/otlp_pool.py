"""Pre-encoded OTLP requests whose ids (and times) can be changed without re-encoding.

A benchmark that builds each request with the protobuf classes measures the
generator, not the collector: building 1,000 spans costs tens of milliseconds.
Here a request is built once; the byte offsets of every trace id, span id and
timestamp are recorded, and each copy gets fresh values by writing those bytes
in place (numpy fancy indexing, some tens of microseconds a request).

Spans look like what ``@opentelemetry/instrumentation-http`` emits for an
Express server (old HTTP semantic conventions, 16 attributes, about 670 bytes
a span in protobuf). Each span is the root of its own trace, as a server
span is when the caller sends no trace context.
"""
from __future__ import annotations

import gzip
import random
import time
from dataclasses import dataclass

import numpy as np
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ROUTES = [
    ("GET", "/api/users/:id", "/api/users/{n}"),
    ("GET", "/api/products", "/api/products?page={n}"),
    ("GET", "/api/products/:sku", "/api/products/SKU-{n}"),
    ("POST", "/api/orders", "/api/orders"),
    ("GET", "/api/orders/:id", "/api/orders/{n}"),
    ("POST", "/api/login", "/api/login"),
    ("GET", "/healthz", "/healthz"),
    ("GET", "/", "/"),
    ("PUT", "/api/cart/:id", "/api/cart/{n}"),
    ("DELETE", "/api/cart/:id/items/:item", "/api/cart/{n}/items/7"),
    ("GET", "/wp-login.php", "/wp-login.php"),
    ("GET", "/api/search", "/api/search?q=shoes{n}"),
]
# Weighted like a real web app: mostly 2xx, some 3xx/4xx, a few 5xx.
STATUSES = [200] * 70 + [201] * 5 + [204] * 3 + [301] * 3 + [304] * 4 + [400] * 3 + [401] * 3 + [403] * 2 + [404] * 4 + [429, 500, 502, 503]
STATUS_TEXT = {200: "OK", 201: "CREATED", 204: "NO CONTENT", 301: "MOVED PERMANENTLY", 304: "NOT MODIFIED", 400: "BAD REQUEST",
               401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT FOUND", 429: "TOO MANY REQUESTS", 500: "INTERNAL SERVER ERROR",
               502: "BAD GATEWAY", 503: "SERVICE UNAVAILABLE"}
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
SERVICES = ["shop-api", "auth-api", "catalog-api"]
# Client addresses: a few thousand, the first ones far more frequent (crawlers, offices, attackers).
_ip_rng = random.Random(7)
CLIENT_IPS = [f"{_ip_rng.choice((203, 198, 185, 91, 82))}.{_ip_rng.randrange(256)}.{_ip_rng.randrange(256)}.{_ip_rng.randrange(1, 255)}"
              for _ in range(5000)]


def kv(key: str, value) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _resource(service: str) -> list[KeyValue]:
    return [kv(k, v) for k, v in (
        ("service.name", service), ("service.version", "2.14.1"), ("deployment.environment", "production"),
        ("host.name", "web-3.eu-west-1"), ("host.arch", "amd64"), ("os.type", "linux"), ("process.pid", 48213),
        ("process.runtime.name", "nodejs"), ("process.runtime.version", "20.12.2"),
        ("telemetry.sdk.language", "nodejs"), ("telemetry.sdk.name", "opentelemetry"), ("telemetry.sdk.version", "1.24.1"),
    )]


def _span_attributes(rng: random.Random) -> tuple[list[KeyValue], int]:
    method, route, target = rng.choice(ROUTES)
    target = target.format(n=rng.randrange(1, 100_000))
    status = rng.choice(STATUSES)
    ip = CLIENT_IPS[int(len(CLIENT_IPS) * rng.random() ** 3)]
    attrs = [
        kv("http.url", f"https://shop.example.com{target}"), kv("http.host", "shop.example.com"),
        kv("net.host.name", "shop.example.com"), kv("http.method", method), kv("http.scheme", "https"),
        kv("http.target", target), kv("http.user_agent", rng.choice(AGENTS)), kv("http.flavor", "1.1"),
        kv("net.transport", "ip_tcp"), kv("net.host.ip", "10.0.3.17"), kv("net.host.port", 8080),
        kv("net.peer.ip", ip), kv("net.peer.port", rng.randrange(1024, 65535)),
        kv("http.status_code", status), kv("http.status_text", STATUS_TEXT[status]), kv("http.route", route),
    ]
    return attrs, status


def build_request(spans: int, seed: int, start_ns: int, spacing_ns: int) -> ExportTraceServiceRequest:
    """One resource, one scope, ``spans`` Express-like server spans ``spacing_ns`` apart."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(_resource(SERVICES[seed % len(SERVICES)]))
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "@opentelemetry/instrumentation-http", "0.51.1"
    for i in range(spans):
        span = ss.spans.add()
        span.trace_id, span.span_id = rng.randbytes(16), rng.randbytes(8)
        attrs, status = _span_attributes(rng)
        span.name, span.kind = f"{attrs[3].value.string_value} {attrs[15].value.string_value}", 2
        span.start_time_unix_nano = start_ns + i * spacing_ns
        span.end_time_unix_nano = span.start_time_unix_nano + int(rng.lognormvariate(16, 1.2))
        span.attributes.extend(attrs)
        span.status.code = 2 if status >= 500 else 0
    return request


def _find_all(data: bytes, needles: list[bytes]) -> np.ndarray:
    """Offset of each needle (each must occur exactly once after the previous)."""
    offsets, start = [], 0
    for needle in needles:
        at = data.find(needle, start)
        if at < 0:
            raise ValueError("needle not found: the encoding changed")
        offsets.append(at)
        start = at + len(needle)
    return np.asarray(offsets, dtype=np.int64)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_RNG = np.random.default_rng()


def _random_hex(count: int) -> np.ndarray:
    raw = _RNG.integers(0, 256, count, dtype=np.uint8)
    out = np.empty(count * 2, dtype=np.uint8)
    out[0::2], out[1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    return out


@dataclass
class Template:
    """A serialized request and where its ids and times live in the bytes."""

    body: bytes
    spans: int
    trace_offsets: np.ndarray  # first byte of every trace id
    span_offsets: np.ndarray  # first byte of every span id
    hex_ids: bool  # JSON writes ids as hex text
    time_offsets: np.ndarray | None = None  # protobuf only: start, end fixed64s of each span

    def __post_init__(self):
        width = 2 if self.hex_ids else 1
        self._trace_idx = (self.trace_offsets[:, None] + np.arange(16 * width)).ravel()
        self._span_idx = (self.span_offsets[:, None] + np.arange(8 * width)).ravel()
        if self.time_offsets is not None:
            self._time_idx = self.time_offsets[:, None] + np.arange(8)

    def copy(self, time_shift_ns: int = 0, durations: bool = False) -> bytes:
        """The request with fresh random ids, times moved by ``time_shift_ns``,
        and with ``durations`` fresh random span durations (protobuf only)."""
        buf = np.frombuffer(bytearray(self.body), dtype=np.uint8)
        ids = len(self._trace_idx) + len(self._span_idx)
        fresh = _random_hex(ids // 2) if self.hex_ids else _RNG.integers(0, 256, ids, dtype=np.uint8)
        buf[self._trace_idx], buf[self._span_idx] = fresh[:len(self._trace_idx)], fresh[len(self._trace_idx):]
        if (time_shift_ns or durations) and self.time_offsets is not None:
            times = buf[self._time_idx].copy().view("<u8").reshape(-1, 2)
            times += np.uint64(time_shift_ns)
            if durations:
                times[:, 1] = times[:, 0] + _RNG.lognormal(16, 1.2, self.spans).astype(np.uint64)
            buf[self._time_idx] = times.reshape(-1, 1).view(np.uint8).reshape(-1, 8)
        return buf.tobytes()


def protobuf_template(request: ExportTraceServiceRequest) -> Template:
    body = request.SerializeToString()
    needles, times = [], []
    for span in request.resource_spans[0].scope_spans[0].spans:
        needles += [span.trace_id, span.span_id]
        times += [b"\x39" + span.start_time_unix_nano.to_bytes(8, "little"), b"\x41" + span.end_time_unix_nano.to_bytes(8, "little")]
    ids = _find_all(body, needles)
    # A span's fields are in order trace, span, ..., start, end: search its times after its ids.
    time_offsets = []
    for i in range(0, len(times), 2):
        after = int(ids[i + 1])
        start = body.find(times[i], after)
        end = body.find(times[i + 1], start)
        if start < 0 or end < 0:
            raise ValueError("span times not found: the encoding changed")
        time_offsets += [start + 1, end + 1]
    return Template(body, len(needles) // 2, ids[0::2], ids[1::2], False, np.asarray(time_offsets, dtype=np.int64))


def to_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as the spec writes it: lowerCamelCase, hex ids, 64-bit ints as strings."""
    def value(v: AnyValue) -> dict:
        return {"intValue": str(v.int_value)} if v.WhichOneof("value") == "int_value" else {"stringValue": v.string_value}

    def attrs(kvs) -> list:
        return [{"key": a.key, "value": value(a.value)} for a in kvs]

    resource_spans = []
    for rs in request.resource_spans:
        scopes = []
        for ss in rs.scope_spans:
            spans = [{
                "traceId": s.trace_id.hex(), "spanId": s.span_id.hex(), "name": s.name, "kind": s.kind,
                "startTimeUnixNano": str(s.start_time_unix_nano), "endTimeUnixNano": str(s.end_time_unix_nano),
                "attributes": attrs(s.attributes), "status": {"code": s.status.code} if s.status.code else {},
            } for s in ss.spans]
            scopes.append({"scope": {"name": ss.scope.name, "version": ss.scope.version}, "spans": spans})
        resource_spans.append({"resource": {"attributes": attrs(rs.resource.attributes)}, "scopeSpans": scopes})
    return orjson.dumps({"resourceSpans": resource_spans})


def json_template(request: ExportTraceServiceRequest) -> Template:
    body = to_otlp_json(request)
    needles = []
    for span in request.resource_spans[0].scope_spans[0].spans:
        needles += [b'"traceId":"' + span.trace_id.hex().encode(), b'"spanId":"' + span.span_id.hex().encode()]
    offsets = _find_all(body, needles)
    offsets[0::2] += len(b'"traceId":"')
    offsets[1::2] += len(b'"spanId":"')
    return Template(body, len(needles) // 2, offsets[0::2], offsets[1::2], True)


class Pool:
    """Requests of one encoding to send: fresh ids per request, or pre-gzipped copies.

    gzip cannot be patched after compression and compressing on the fly would
    load the generator more than the collector, so with ``gzip`` the pool holds
    ``size`` distinct compressed requests and cycles through them (their ids
    repeat every ``size`` requests; stored counts still add up).
    """

    def __init__(self, encoding: str, spans: int = 1000, templates: int = 4, gzip_pool: int = 0, seed: int = 1,
                 start_ns: int | None = None, spacing_ns: int = 1000):
        start = time.time_ns() if start_ns is None else start_ns
        built = [build_request(spans, seed + i, start, spacing_ns) for i in range(templates)]
        make = protobuf_template if encoding == "protobuf" else json_template
        self.templates = [make(r) for r in built]
        self.spans = spans
        self._turn = 0
        self._gzipped = [gzip.compress(self.next_plain(), 6) for _ in range(gzip_pool)]

    def next_plain(self) -> bytes:
        self._turn += 1
        return self.templates[self._turn % len(self.templates)].copy()

    def next(self) -> bytes:
        if not self._gzipped:
            return self.next_plain()
        self._turn += 1
        return self._gzipped[self._turn % len(self._gzipped)]

"""OTLP/HTTP: ``POST /v1/traces``, protobuf or JSON, plain, gzip, deflate or zstd.

aiohttp's own decompression is turned off: the body is inflated here, chunk by
chunk, and refused with 413 as soon as it passes ``max_body_bytes``, so a
compression bomb or an endless chunked body costs at most that much memory.
"""
from __future__ import annotations

import zlib

from aiohttp import ClientPayloadError, web

from collector.receiver import Ingest, key_from, outcome_of
from collector.rpc_status import Refusal, success

try:  # zstd: in the standard library from Python 3.14, else its backport
    from compression import zstd as _zstd
except ImportError:
    from backports import zstd as _zstd

CONTENT_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf", "application/json": "json"}
MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}
TRANSPORT = "http"


class Inflater:
    """Decompress incrementally, never producing more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int):
        self.limit, self.size = limit, 0
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
            self._zstd = None
        elif encoding == "zstd":
            self._zlib, self._zstd = None, _zstd.ZstdDecompressor()
        else:
            raise Refusal("unsupported", f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or zstd")

    def feed(self, chunk: bytes) -> list[bytes]:
        out = []
        try:
            while chunk or self._zstd_pending():
                part = self._decompress(chunk, self.limit - self.size + 1)
                chunk = self._zlib.unconsumed_tail if self._zlib else b""
                self.size += len(part)
                if self.size > self.limit:
                    raise too_large(self.limit)
                out.append(part)
                if not part and not chunk:
                    break
        except (zlib.error, EOFError) as exc:
            raise Refusal("invalid", f"the body could not be decompressed ({exc})") from None
        except _zstd.ZstdError as exc:
            raise Refusal("invalid", f"the body could not be decompressed ({exc})") from None
        return out

    def _decompress(self, chunk: bytes, max_length: int) -> bytes:
        if self._zlib:
            return self._zlib.decompress(chunk, max_length)
        if self._zstd.eof:
            return b""
        return self._zstd.decompress(chunk, max_length)

    def _zstd_pending(self) -> bool:
        return self._zstd is not None and not self._zstd.eof and not self._zstd.needs_input

    def finish(self) -> None:
        done = self._zlib.eof if self._zlib is not None else self._zstd.eof
        if not done:
            raise Refusal("invalid", "the compressed body is truncated")


def too_large(limit: int) -> Refusal:
    return Refusal("too_large", f"the request body is over the limit of {limit} bytes (after decompression)")


async def read_body(request: web.Request, limit: int) -> bytes:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    inflater = None if encoding in ("", "identity") else Inflater(encoding, limit)
    parts, received = [], 0
    try:
        async for chunk in request.content.iter_any():
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            parts.extend(inflater.feed(chunk) if inflater else (chunk,))
    except (ConnectionError, ClientPayloadError) as exc:  # the client went away mid-body
        raise Refusal("invalid", f"the body ended early ({exc})") from None
    if inflater:
        inflater.finish()
    return b"".join(parts)


def format_of(request: web.Request) -> str:
    fmt = CONTENT_TYPES.get(request.content_type)
    if fmt is None:
        raise Refusal("unsupported", f"Content-Type {request.content_type!r} is not supported; use application/x-protobuf or application/json")
    return fmt


class HttpReceiver:
    def __init__(self, ingest: Ingest):
        self.ingest = ingest

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/traces", self.export)]

    async def export(self, request: web.Request) -> web.Response:
        fmt = CONTENT_TYPES.get(request.content_type, "json")
        try:
            return await self.ingest.handle(TRANSPORT, lambda: self._export(request))
        except Refusal as refusal:
            headers = {"Retry-After": refusal.retry_after_header()} if refusal.retryable else None
            return web.Response(status=refusal.http_status, body=refusal.http_body(fmt), content_type=MEDIA[fmt], headers=headers)

    async def _export(self, request: web.Request):
        self.ingest.admit()
        app_id = self.ingest.authenticate(key_from(request.headers.get), TRANSPORT)
        fmt = format_of(request)
        body = await read_body(request, self.ingest.max_body_bytes)
        checked = await self.ingest.export(app_id, fmt, body, TRANSPORT)
        response = web.Response(body=success(checked.rejected, checked.message, fmt), content_type=MEDIA[fmt])
        return response, outcome_of(checked)

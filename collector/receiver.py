"""What both OTLP transports share: authenticate, limit, check, hand to the sink.

A transport decodes its framing and compression, then calls ``Ingest.export``
with the plain body; every refusal comes back as one ``Refusal`` that the
transport encodes. Metrics are counted here, once, for both.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Callable

from collector import metrics
from collector.config import Config
from collector.keys import KeyCache
from collector.otlp_checks import Checked, Invalid, Limits, TooMany, check_json, check_protobuf
from collector.rpc_status import Refusal
from collector.sink import BackPressure, Sink, SinkUnavailable

log = logging.getLogger(__name__)

CHECKS = {"protobuf": check_protobuf, "json": check_json}
BEARER = "bearer "


def key_from(get: Callable[[str], str | None]) -> str:
    """The runtime key from ``Authorization: Bearer ...`` or ``x-api-key``."""
    auth = (get("authorization") or "").strip()
    if auth[: len(BEARER)].lower() == BEARER:
        return auth[len(BEARER):].strip()
    return (get("x-api-key") or "").strip()


class Ingest:
    def __init__(self, config: Config, keys: KeyCache, sink: Sink):
        self.keys, self.sink = keys, sink
        self.limits = Limits(config.max_spans_per_request, config.max_attribute_value_length)
        self.max_body_bytes = config.max_body_bytes
        self.max_inflight = config.max_concurrent_requests
        self.inflight = 0

    def authenticate(self, key: str, transport: str) -> str:
        if not key:
            _child(metrics.AUTH_FAILURES, transport, "missing").inc()
            raise Refusal("unauthenticated", "a runtime key is required: Authorization: Bearer snk_live_... or x-api-key")
        app_id = self.keys.app_for(key)
        if app_id is None:
            _child(metrics.AUTH_FAILURES, transport, "unknown").inc()
            raise Refusal("unauthenticated", "the runtime key is unknown or revoked")
        return app_id

    def admit(self) -> None:
        """Refuse, rather than queue, a request over the concurrency limit."""
        if self.inflight > self.max_inflight:  # this request is counted already
            raise Refusal("backpressure", "too many export requests at once; retry later", 1.0)

    async def export(self, app_id: str, fmt: str, body: bytes, transport: str) -> Checked:
        """Check ``body`` and make its valid spans durable; raise ``Refusal``."""
        try:
            checked = CHECKS[fmt](body, self.limits)
        except Invalid as exc:
            raise Refusal("invalid", str(exc)) from None
        except TooMany as exc:
            raise Refusal("too_large", str(exc)) from None
        if checked.spans:
            await self._accept(app_id, fmt, checked, transport)
        if checked.rejected:
            _child(metrics.RECEIVER_REFUSED_SPANS, "otlp", transport).inc(checked.rejected)
        return checked

    async def _accept(self, app_id: str, fmt: str, checked: Checked, transport: str) -> None:
        try:
            await self.sink.accept(app_id, fmt, checked.body, checked.spans)
        except BackPressure as exc:
            _child(metrics.RECEIVER_REFUSED_SPANS, "otlp", transport).inc(checked.spans)
            raise Refusal("backpressure", str(exc) or "the collector is full; retry later", exc.retry_after) from None
        except SinkUnavailable as exc:
            _child(metrics.RECEIVER_REFUSED_SPANS, "otlp", transport).inc(checked.spans)
            raise Refusal("unavailable", f"the collector cannot store spans now; retry later ({_short(exc)})", 5.0) from None
        except Exception as exc:
            log.exception("sink refused a request")
            _child(metrics.RECEIVER_REFUSED_SPANS, "otlp", transport).inc(checked.spans)
            raise Refusal("error", f"the collector could not store this request ({_short(exc)})") from None
        _child(metrics.RECEIVER_ACCEPTED_SPANS, "otlp", transport).inc(checked.spans)

    async def handle(self, transport: str, run) -> object:
        """Run one request's handler ``run()`` with the in-flight count and metrics."""
        started = time.perf_counter()
        self.inflight += 1
        metrics.RECEIVER_INFLIGHT.inc()
        outcome = "error"  # unless run() or a Refusal says otherwise
        try:
            result, outcome = await run()
            return result
        except Refusal as exc:
            outcome = exc.kind
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.inflight -= 1
            metrics.RECEIVER_INFLIGHT.dec()
            _child(metrics.RECEIVER_REQUESTS, transport, outcome).inc()
            _child(metrics.RECEIVER_REQUEST_SECONDS, transport).observe(time.perf_counter() - started)


@functools.cache
def _child(metric, *labels: str):
    """The metric's child for these (bounded) labels, looked up once: ``labels()``
    checks and joins its arguments under a lock on every call."""
    return metric.labels(*labels)


def outcome_of(checked: Checked) -> str:
    return "partial" if checked.rejected else "accepted"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

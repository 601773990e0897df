"""``/metrics`` on the API port, and the latency and outcome of every API request.

The registry of ``collector.metrics`` is served in Prometheus' text format, with
the process' own CPU, memory and file descriptors. A middleware counts each API
request under its route's pattern (``/api/traces/{trace_id}``), never the raw
path, so the label keeps a small, fixed set of values.
"""
from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from collector import metrics

UNMATCHED = "unmatched"  # every path no route serves, so scanners add no label values

_process_collectors_added = False


def add_process_collectors() -> None:
    """process_cpu_seconds_total, process_resident_memory_bytes, python_info (once per process)."""
    global _process_collectors_added
    if not _process_collectors_added:
        ProcessCollector(registry=metrics.REGISTRY)
        PlatformCollector(registry=metrics.REGISTRY)
        _process_collectors_added = True


async def metrics_handler(request: web.Request) -> web.Response:
    # The scraper's Accept header picks the format: OpenMetrics or the classic text one.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(metrics.REGISTRY), headers={"Content-Type": content_type})


def route_label(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None or isinstance(request.match_info.http_exception, web.HTTPException):
        return UNMATCHED
    return resource.canonical


@web.middleware
async def instrument(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_label(request)
        metrics.API_REQUESTS.labels(route, str(status)).inc()
        metrics.API_REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)


def zero_known_series() -> None:
    """Create at 0 the series whose label values are known in advance.

    A labelled counter has no series until first counted, so "refused / (accepted +
    refused)" or "send failed" would read as no data, not 0, on a healthy collector
    (the OpenTelemetry Collector starts these at 0 too).
    """
    for transport in ("grpc", "http"):
        metrics.RECEIVER_ACCEPTED_SPANS.labels("otlp", transport)
        metrics.RECEIVER_REFUSED_SPANS.labels("otlp", transport)
    for counter in (metrics.EXPORTER_SENT_SPANS, metrics.EXPORTER_SEND_FAILED_SPANS, metrics.EXPORTER_ENQUEUE_FAILED_SPANS):
        counter.labels("clickhouse")


def install(app: web.Application) -> None:
    """Serve ``/metrics`` on ``app`` and measure every request it answers."""
    add_process_collectors()
    zero_known_series()
    app.middlewares.append(instrument)
    app.router.add_get("/metrics", metrics_handler)

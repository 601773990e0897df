"""The query API: traces, analytics and client IPs, per tenant, behind bearer tokens.

Every request passes, outermost first: metrics (route pattern and status), error
mapping (every error is JSON ``{"error": "..."}``), the per-client-IP rate limit
and the token check. A token sees only the applications it grants; any other
application answers 404, exactly as one that does not exist.
"""
from __future__ import annotations

import logging

from aiohttp import web

from collector import metrics, openapi
from collector.exposition import route_label
from collector.apiparams import GRANT, BadRequest, HttpError, json_response
from collector.config import Config
from collector.handlers import Handlers
from collector.ratelimit import RateLimiter, parse_limits, retry_after_seconds
from collector.store import Store, StoreUnavailable
from collector.timerange import BadRange
from collector.tokens import TokenCache

log = logging.getLogger(__name__)

OPEN_PATHS = ("/api/openapi.json",)


def error_response(status: int, message: str, headers: dict | None = None, **extra) -> web.Response:
    return json_response({"error": message, **extra}, status, headers)


class Api:
    """Routes, middlewares and the token cache; a component of the service."""

    def __init__(self, config: Config, store: Store):
        self.config = config
        self.tokens = TokenCache(store, config.api_token_refresh_seconds)
        self.limiter = RateLimiter(config.api_rate_limit, parse_limits(config.api_rate_limits))
        self.handlers = Handlers(config, store)

    def install(self, app: web.Application) -> None:
        # Counting requests is exposition.instrument's, installed with /metrics.
        app.middlewares.extend([self.errors_mw, self.rate_limit_mw, self.auth_mw])
        app.add_routes(self.handlers.routes())
        app.router.add_get("/api/openapi.json", self.openapi)

    async def start(self) -> None:
        await self.tokens.start()

    async def shutdown(self) -> None:
        await self.tokens.shutdown()

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(openapi.document())

    @web.middleware
    async def errors_mw(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (BadRequest, BadRange) as exc:
            return error_response(400, str(exc))
        except HttpError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return error_response(exc.status, str(exc), headers)
        except web.HTTPException as exc:  # the router's 404 and 405, aiohttp's 413
            if exc.status < 400:
                raise
            return error_response(exc.status, exc.reason, {k: v for k, v in exc.headers.items() if k == "Allow"})
        except StoreUnavailable as exc:
            log.warning("store unavailable for %s: %s", route_label(request), str(exc).splitlines()[0][:200])
            return error_response(503, "The store is unavailable; try again shortly", {"Retry-After": "5"}, retryAfter=5)
        except Exception:
            log.exception("%s %s failed", request.method, route_label(request))
            return error_response(500, "Internal error; the service log has the details")

    @web.middleware
    async def rate_limit_mw(self, request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        route = route_label(request)
        allowed, limit, wait = self.limiter.check(request.remote or "", route)
        if allowed:
            return await handler(request)
        metrics.API_RATE_LIMITED.labels(route).inc()
        seconds = retry_after_seconds(wait)
        return error_response(
            429, f"Rate limit exceeded. Max {limit} requests per minute.", {"Retry-After": str(seconds)}, retryAfter=seconds
        )

    @web.middleware
    async def auth_mw(self, request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/api/") or request.path in OPEN_PATHS:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if not header:
            metrics.AUTH_FAILURES.labels("api", "missing").inc()
            raise HttpError(401, "Authentication required")
        scheme, _, token = header.partition(" ")
        grant = self.tokens.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            metrics.AUTH_FAILURES.labels("api", "invalid").inc()
            raise HttpError(401, "Invalid or revoked token")
        request[GRANT] = grant
        return await handler(request)

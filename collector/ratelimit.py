"""Per-client-IP rate limits of the API: a token bucket per (client, route).

A limit is N requests per minute; the bucket holds N and refills continuously, so
a client may burst N at once and then gets one more every 60/N seconds. Limits are
set per route pattern (``/api/traces=120,/api/analytics/*=300``), the rest get the
default. Memory is bounded: past ``max_clients`` buckets the idle ones are dropped.
"""
from __future__ import annotations

import math
import time
from typing import Callable


class RateLimitSpecError(ValueError):
    """A malformed per-route limits setting."""


def parse_limits(spec: str) -> list[tuple[str, int]]:
    """``pattern=N,...`` to [(pattern, N)]; a pattern ending in ``*`` is a prefix."""
    limits = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        pattern, _, value = part.partition("=")
        if not pattern.startswith("/") or not value.strip().isdigit() or int(value) < 1:
            raise RateLimitSpecError(f"{part!r} is not ROUTE=REQUESTS_PER_MINUTE (like /api/traces=120)")
        limits.append((pattern.strip(), int(value)))
    return limits


class RateLimiter:
    def __init__(self, default_per_minute: int, per_route: list[tuple[str, int]] = (),
                 max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.default = default_per_minute
        self.per_route = list(per_route)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, at)

    def limit_for(self, route: str) -> int:
        for pattern, limit in self.per_route:
            if route == pattern or (pattern.endswith("*") and route.startswith(pattern[:-1])):
                return limit
        return self.default

    def check(self, client: str, route: str) -> tuple[bool, int, float]:
        """(allowed, limit per minute, seconds until the next request would be allowed)."""
        limit = self.limit_for(route)
        now = self.clock()
        rate = limit / 60.0
        tokens, at = self._buckets.get((client, route), (float(limit), now))
        tokens = min(float(limit), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._store((client, route), tokens - 1.0, now)
            return True, limit, 0.0
        self._store((client, route), tokens, now)
        return False, limit, (1.0 - tokens) / rate

    def _store(self, key: tuple[str, str], tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self.max_clients:
            self._prune(now)
        self._buckets[key] = (tokens, now)

    def _prune(self, now: float) -> None:
        """Drop buckets that have refilled (idle clients); if none, the oldest half."""
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.limit_for(k[1]) / 60 >= self.limit_for(k[1])]
        for key in full or sorted(self._buckets, key=lambda k: self._buckets[k][1])[: len(self._buckets) // 2]:
            del self._buckets[key]


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))

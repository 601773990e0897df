"""Liveness and readiness.

``/healthz`` answers as long as the process serves HTTP. ``/readyz`` asks every
registered check and answers 503 naming each one that fails, so a load balancer
stops sending traffic to an instance that cannot take it. Once shutdown begins
it answers 503 ("draining") before anything else stops, so the balancer moves
new exports elsewhere while this instance finishes what it accepted.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

# A readiness check returns None when fine, or a short reason when not.
Check = Callable[[], Awaitable[str | None]]


class Health:
    def __init__(self, timeout: float = 2.0):
        self._checks: dict[str, Check] = {}
        self._timeout = timeout
        self.draining = False

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def start_draining(self) -> None:
        self.draining = True

    async def problems(self) -> dict[str, str]:
        found = {"shutdown": "draining"} if self.draining else {}
        for name, check in self._checks.items():
            try:
                reason = await asyncio.wait_for(check(), self._timeout)
            except asyncio.TimeoutError:
                reason = f"no answer within {self._timeout:g} s"
            except Exception as exc:  # a failing check is a reason, never a crash
                reason = str(exc) or type(exc).__name__
            if reason:
                found[name] = reason
        return found

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz), web.get("/readyz", self.readyz)]

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        if problems:
            return web.json_response({"status": "unavailable", "problems": problems}, status=503)
        return web.json_response({"status": "ok", "checks": sorted(self._checks)})

"""The service: the stages wired together, started in order and shut down in reverse.

Start-up: store, schema, then the stages that consume data before the ones that
produce it, the receivers last. Shutdown: stop accepting (receivers first), let
what was accepted drain, flush, close the store.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

from aiohttp import web

from collector import exposition, migrate
from collector.config import Config
from collector.health import Health
from collector.pipeline import Pipeline
from collector.store import Store, StoreError

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message names the setting to fix."""


class Component(Protocol):
    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...


class HttpServer:
    """An aiohttp application on one port, as a component."""

    def __init__(self, app: web.Application, host: str, port: int, setting: str, **handler_options):
        self.app, self.host, self.port, self.setting = app, host, port, setting
        self.handler_options = handler_options  # for example auto_decompress=False
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, **self.handler_options)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise StartupError(f"{self.setting}: cannot listen on {self.host}:{self.port} ({exc.strerror or exc})") from exc
        log.info("%s listening on %s:%d", self.setting, self.host, self.port)

    async def shutdown(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


class Service:
    def __init__(self, config: Config):
        self.config = config
        self.store = Store(config.resolved_store_url)
        self.health = Health()
        self.api_app = web.Application(client_max_size=1 << 20)
        self.api_app.add_routes(self.health.routes())
        exposition.install(self.api_app)
        self.components: list[Component] = []
        self._started: list[Component] = []
        self._stopping = asyncio.Event()

    async def open_store(self) -> None:
        try:
            await asyncio.to_thread(self.store.open)
            await asyncio.to_thread(
                migrate.migrate, self.store, self.config.cluster, self.config.retention_days
            )
        except StoreError as exc:
            raise StartupError(f"store_url: cannot use {self.store.url.split('@')[-1]} ({_first_line(exc)})") from exc
        self.health.add_check("store", self._store_ready)

    async def _store_ready(self) -> str | None:
        ok = await asyncio.to_thread(self.store.ping)
        return None if ok else "store does not answer"

    def build(self) -> None:
        """Create the stages, in start order: consumers before producers."""
        # pipeline: the sink the receivers hand requests to
        self.sink = Pipeline.from_config(self.store, self.config)
        self.components.append(self.sink)
        self.health.add_check("log writable", self.sink.log_writable)
        self.health.add_check("not shedding load", self.sink.not_shedding_load)
        from collector.receivers import build_receivers

        # receivers
        self.components.extend(build_receivers(self.config, self.store, self.sink))
        # API routes
        from collector import tokens
        from collector.admin import AdminSocket
        from collector.api import Api

        api = Api(self.config, self.store)
        api.install(self.api_app)
        for admin in (c for c in self.components if isinstance(c, AdminSocket)):
            admin.add_group("tokens", tokens.run_action, api.tokens)
        self.components.append(api)
        self.components.append(HttpServer(self.api_app, self.config.host, self.config.api_port, "api_port"))

    async def start(self) -> None:
        await self.open_store()
        self.build()
        for component in self.components:
            try:
                await component.start()
            except BaseException:
                await self.shutdown()
                raise
            self._started.append(component)

    async def shutdown(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                await component.shutdown()
            except Exception:
                log.exception("shutdown of %s failed", type(component).__name__)
        await asyncio.to_thread(self.store.close)

    def stop(self) -> None:
        self.health.start_draining()
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        await self.start()
        log.info("collector ready")
        try:
            await self._stopping.wait()
            if self.config.drain_delay_ms:
                # /readyz already answers 503: give the balancers' health checks time to notice
                log.info("draining: still serving for %d ms", self.config.drain_delay_ms)
                await asyncio.sleep(self.config.drain_delay_ms / 1000)
        finally:
            log.info("shutting down")
            await self.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__

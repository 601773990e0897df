"""Key administration of a running service, over a Unix socket in the data directory.

The embedded store is held by the one process that opened it, so while
``collector serve`` runs, ``collector keys ...`` cannot open it. The service
therefore listens on ``<data_dir>/admin.sock`` (mode 0600: only the user who
runs the service can use it, nothing is exposed on the network) and the CLI
sends its command there when the socket answers. A revocation done this way
also reloads the key cache at once.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import socket
from pathlib import Path

from aiohttp import web

from collector import keys
from collector.keys import KeyCache, KeyCommandError
from collector.store import Store

log = logging.getLogger(__name__)

SOCKET_NAME = "admin.sock"
_MAX_PATH = 100  # sun_path holds 108 bytes on Linux


def socket_path(data_dir: str) -> Path:
    return Path(data_dir).resolve() / SOCKET_NAME


class AdminSocket:
    """The service side: ``POST /keys/{create,list,revoke}`` with a JSON body."""

    def __init__(self, store: Store, cache: KeyCache, path: Path):
        self.store, self.cache, self.path = store, cache, path
        self._runner: web.AppRunner | None = None
        # group -> (run(store, action, args), cache reloaded after a command)
        self.groups: dict[str, tuple] = {"keys": (run_action, cache)}

    def add_group(self, name: str, run, cache) -> None:
        """More commands on the same socket: ``POST /<name>/<action>`` (e.g. API tokens)."""
        self.groups[name] = (run, cache)

    async def start(self) -> None:
        if len(str(self.path)) > _MAX_PATH:
            log.warning("admin socket path %s is too long; key commands need the service stopped", self.path)
            return
        app = web.Application(client_max_size=64 << 10)
        app.add_routes([web.post("/{group}/{action}", self.handle)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self.path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)
        try:
            await web.UnixSite(self._runner, str(self.path)).start()
        finally:
            os.umask(old_umask)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["group"] not in self.groups:
            return web.json_response({"error": "unknown command group"}, status=404)
        run, cache = self.groups[request.match_info["group"]]
        args = await request.json()
        try:
            result = await asyncio.to_thread(run, self.store, request.match_info["action"], args)
        except (KeyCommandError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        await cache.reload()
        return web.json_response(result)

    async def shutdown(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            self.path.unlink(missing_ok=True)


def run_action(store: Store, action: str, args: dict):
    if action == "create":
        return keys.create_key(store, args.get("app", ""), args.get("name") or "")
    if action == "list":
        return keys.list_keys(store)
    if action == "revoke":
        return keys.revoke_key(store, args.get("key", ""))
    raise KeyCommandError(f"unknown key action {action!r}")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def service_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            return True
        except OSError:
            return False


def call(path: Path, action: str, args: dict, timeout: float = 30.0, group: str = "keys"):
    """Send one command to the running service; raise KeyCommandError on refusal."""
    conn = _UnixConnection(path, timeout)
    try:
        conn.request("POST", f"/{group}/{action}", body=json.dumps(args), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"null")
    finally:
        conn.close()
    if resp.status != 200:
        raise KeyCommandError(body.get("error", f"service answered {resp.status}") if isinstance(body, dict) else str(body))
    return body

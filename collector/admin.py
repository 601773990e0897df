"""Admin calls into a running service, for CLI commands that need the store it holds.

The embedded store is held by one process, so while ``collector serve`` runs a CLI
command cannot open it. The service writes ``<data_dir>/admin.json`` (mode 0600: its
port and a random secret) when it starts and removes it when it stops; the CLI reads
it and calls ``/admin/...`` on the API port over loopback with the secret. Whoever can
read the data directory could open the store anyway, so this grants nothing more.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from aiohttp import web

ADMIN_FILE = "admin.json"
SECRET_HEADER = "X-Collector-Admin"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class AdminUnreachable(Exception):
    """No running service answered for this data directory."""


class AdminEndpoint:
    """The admin file and the guard of the ``/admin/`` routes, as a component."""

    def __init__(self, data_dir: str, port: int):
        self.path = Path(data_dir) / ADMIN_FILE
        self.port = port
        self.secret = secrets.token_urlsafe(32)

    async def start(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"port": self.port, "secret": self.secret}, handle)

    async def shutdown(self) -> None:
        self.path.unlink(missing_ok=True)

    def allows(self, request: web.Request) -> bool:
        offered = request.headers.get(SECRET_HEADER, "")
        return request.remote in LOOPBACK and hmac.compare_digest(offered.encode(), self.secret.encode())


def call(data_dir: str, method: str, path: str, body: dict | None = None, timeout: float = 10.0):
    """(status, JSON answer) of an admin call to the service running on ``data_dir``."""
    try:
        info = json.loads((Path(data_dir) / ADMIN_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise AdminUnreachable(str(exc)) from exc
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{info['port']}{path}", data=data, method=method,
        headers={SECRET_HEADER: info["secret"], "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError as exc:  # a stale file left by a killed service
        raise AdminUnreachable(str(exc)) from exc

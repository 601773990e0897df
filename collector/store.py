"""The ClickHouse store: one clickhouse-connect client, embedded (chDB) or remote.

The same SQL and the same calls go to both backends; the URL alone chooses. The
embedded engine allows one database path per process and its client is not
meant for concurrent use, so calls to it are serialized; a server client takes
concurrent calls through its connection pool.

Errors leave this module as one of two kinds, so callers decide once what to do:
``StoreUnavailable`` (try again later) and ``StoreRejected`` (the store will never
accept this; retrying cannot help).
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import re
import threading
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError

log = logging.getLogger(__name__)

# Server error codes that mean the request itself is wrong, not the moment.
# (ClickHouse ErrorCodes.cpp: syntax, parsing, type and schema errors.)
PERMANENT_CODES = frozenset({
    6, 26, 27, 32, 33, 38, 41, 43, 47, 53, 60, 62, 69, 70, 72, 73, 76, 80, 81, 117, 130, 131, 153,
    190, 236, 241, 386, 394, 407, 432, 437, 444, 570,
})
_CODE = re.compile(r"Code: (\d+)\.")


class StoreError(Exception):
    """Base of the store's errors."""


class StoreUnavailable(StoreError):
    """Transient: the store could not take the call now."""


class StoreRejected(StoreError):
    """Permanent: the store will never accept this call as it is."""


def classify(exc: Exception) -> StoreError:
    """Map a driver error to one of the two kinds above."""
    code = getattr(exc, "code", None)
    if code is None:
        match = _CODE.search(str(exc))
        code = int(match.group(1)) if match else None
    if isinstance(exc, DatabaseError) and code in PERMANENT_CODES:
        return StoreRejected(str(exc))
    return StoreUnavailable(str(exc))


# Embedded store paths this process has opened: the engine's lock is then ours.
_OPENED_HERE: set[str] = set()


def _check_not_held(path: Path) -> None:
    """Refuse early, and clearly, a store directory another process has open.

    The engine locks ``status`` in its directory; asking first avoids its own
    multi-line complaint on stderr.
    """
    status = path / "status"
    if not status.exists():
        return
    with open(status, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreUnavailable(
                f"the embedded store at {path} cannot be opened: another process (a running 'collector serve'?) holds it"
            ) from None
        fcntl.flock(handle, fcntl.LOCK_UN)


def _database_in(url: str) -> str:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    if "database" in query:
        name = query["database"][0]
    elif parsed.scheme != "chdb":
        name = parsed.path.strip("/").split("/")[0]
    else:
        name = ""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name or ""):
        raise StoreRejected(f"database name {name!r} is not a plain identifier")
    return name


class Store:
    """A ClickHouse client with the project's error mapping and async wrappers."""

    def __init__(self, url: str, connect_timeout: float = 5.0):
        self.url = url
        self.embedded = urlparse(url).scheme == "chdb"
        self._lock = threading.Lock() if self.embedded else nullcontext()
        self._client = None
        self._connect_timeout = connect_timeout

    def open(self) -> "Store":
        if self._client is not None:
            return self
        try:
            try:
                self._client = self._connect()
            except DatabaseError as exc:
                if "UNKNOWN_DATABASE" not in str(exc):
                    raise
                self._create_database()
                self._client = self._connect()
        except (ClickHouseError, OSError) as exc:
            raise classify(exc) from exc
        return self

    def _connect(self, **overrides):
        if self.embedded:
            path = Path(urlparse(self.url).path)
            path.mkdir(parents=True, exist_ok=True)
            if str(path) not in _OPENED_HERE:
                _check_not_held(path)
            client = clickhouse_connect.get_client(dsn=self.url, **overrides)
            _OPENED_HERE.add(str(path))
            return client
        return clickhouse_connect.get_client(
            dsn=self.url, connect_timeout=self._connect_timeout, autogenerate_session_id=False, **overrides
        )

    def _create_database(self) -> None:
        """A database named in the URL that does not exist yet is created."""
        name = _database_in(self.url)
        client = self._connect(database="default")
        try:
            client.command(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        finally:
            client.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with self._lock:
                client.close()

    @property
    def database(self) -> str:
        return self._client.database or "default"

    def _call(self, method: str, *args, **kwargs):
        if self._client is None:
            raise StoreUnavailable("store is closed")
        try:
            with self._lock:
                return getattr(self._client, method)(*args, **kwargs)
        except ClickHouseError as exc:
            raise classify(exc) from exc
        except OSError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def command(self, sql: str, parameters: dict | None = None, settings: dict | None = None):
        return self._call("command", sql, parameters=parameters, settings=settings)

    def query(self, sql: str, parameters: dict | None = None, settings: dict | None = None):
        return self._call("query", sql, parameters=parameters, settings=settings)

    def rows(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> list[tuple]:
        return self.query(sql, parameters, settings).result_rows

    def dicts(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> list[dict]:
        result = self.query(sql, parameters, settings)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def insert(self, table: str, rows: list, column_names: list[str], settings: dict | None = None):
        return self._call("insert", table, rows, column_names=column_names, settings=settings)

    def raw_insert(self, table: str, body: bytes, fmt: str, settings: dict | None = None):
        return self._call("raw_insert", table, insert_block=body, fmt=fmt, settings=settings)

    def ping(self) -> bool:
        try:
            self.query("SELECT 1")
            return True
        except StoreError:
            return False

    # asyncio callers: the driver blocks, so it runs in a worker thread.
    async def acommand(self, *args, **kwargs):
        return await asyncio.to_thread(self.command, *args, **kwargs)

    async def adicts(self, *args, **kwargs) -> list[dict]:
        return await asyncio.to_thread(self.dicts, *args, **kwargs)

    async def arows(self, *args, **kwargs) -> list[tuple]:
        return await asyncio.to_thread(self.rows, *args, **kwargs)

    async def araw_insert(self, *args, **kwargs):
        return await asyncio.to_thread(self.raw_insert, *args, **kwargs)

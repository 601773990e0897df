"""Runtime keys (``snk_live_...``): create, list, revoke, and the receivers' cache.

Only a SHA-256 of a key is stored; the key itself is printed once, at creation.
A revocation is a newer row (higher ``Version``) for the same hash, which
``ReplacingMergeTree`` keeps. The receivers never ask the store per request: a
``KeyCache`` holds the active hashes in memory and reloads them every
``key_reload_seconds``, so a revocation reaches a running service within that.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from datetime import datetime, timezone

from collector.store import Store, StoreError

log = logging.getLogger(__name__)

KEY_PREFIX = "snk_live_"
_ID_CHARS = 8  # characters after snk_live_ shown as the key's id

LIST_SQL = """
SELECT KeyPrefix, AppId, Name, CreatedAt, RevokedAt, KeyHash
FROM runtime_keys FINAL
ORDER BY CreatedAt, KeyPrefix
"""
ACTIVE_SQL = "SELECT KeyHash, AppId FROM runtime_keys FINAL WHERE RevokedAt IS NULL"
KEY_COLUMNS = ["KeyHash", "KeyPrefix", "AppId", "Name", "CreatedAt", "RevokedAt", "Version"]


class KeyCommandError(Exception):
    """A key command that cannot be done as asked (unknown or ambiguous id)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30).replace("-", "a").replace("_", "b")


def key_id(key: str) -> str:
    return key[: len(KEY_PREFIX) + _ID_CHARS]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_key(store: Store, app_id: str, name: str = "") -> dict:
    """A new key for ``app_id`` (the application is registered if new); the
    returned dict holds the only copy of the key in clear."""
    if not app_id or len(app_id) > 128:
        raise KeyCommandError("app: give an application id of 1 to 128 characters")
    key, now = new_key(), _now()
    version = time.time_ns()
    if not store.rows("SELECT 1 FROM applications FINAL WHERE AppId = {a:String}", {"a": app_id}):
        store.insert("applications", [[app_id, app_id, now, version]], ["AppId", "Name", "CreatedAt", "Version"])
    store.insert("runtime_keys", [[hash_key(key), key_id(key), app_id, name, now, None, version]], KEY_COLUMNS)
    return {"key": key, "id": key_id(key), "app_id": app_id, "name": name}


def list_keys(store: Store) -> list[dict]:
    return [
        {"id": r[0], "app_id": r[1], "name": r[2], "created_at": str(r[3]), "revoked_at": str(r[4]) if r[4] else None}
        for r in store.rows(LIST_SQL)
    ]


def revoke_key(store: Store, ident: str) -> dict:
    """Revoke the one key whose id (or a longer prefix of it) starts with ``ident``."""
    ident = ident.strip()
    if len(ident) < 4:
        raise KeyCommandError("key: give at least 4 characters of the key id")
    rows = [r for r in store.rows(LIST_SQL) if r[0].startswith(ident) or ident.startswith(r[0])]
    if not rows:
        raise KeyCommandError(f"key: no key with id {ident!r}")
    if len(rows) > 1:
        raise KeyCommandError(f"key: {ident!r} matches {len(rows)} keys; give more of the id")
    prefix, app_id, name, created, revoked, key_hash = rows[0]
    if revoked is None:
        store.insert("runtime_keys", [[key_hash, prefix, app_id, name, created, _now(), time.time_ns()]], KEY_COLUMNS)
    return {"id": prefix, "app_id": app_id, "revoked": True}


def active_keys(store: Store) -> dict[str, str]:
    return dict(store.rows(ACTIVE_SQL))


class KeyCache:
    """Hash of every active key -> application id, reloaded in the background."""

    def __init__(self, store: Store, reload_seconds: float = 2.0):
        self.store = store
        self.reload_seconds = reload_seconds
        self._apps: dict[str, str] = {}
        self._task: asyncio.Task | None = None

    def app_for(self, key: str) -> str | None:
        if not key.startswith(KEY_PREFIX):
            return None
        return self._apps.get(hash_key(key))

    async def reload(self) -> None:
        self._apps = await asyncio.to_thread(active_keys, self.store)

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._reload_forever(), name="key-cache")

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            try:
                await self.reload()
            except StoreError as exc:  # keep serving with the keys we have
                log.warning("runtime keys not reloaded: %s", str(exc).splitlines()[0][:200])

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""API bearer tokens: created, listed and revoked by operators, each granting applications.

Only a SHA-256 of a token is stored (tokens are 256 random bits, so a fast hash is
enough); the token itself is shown once, when it is created. The service keeps the
active tokens in memory and re-reads them every ``api_token_refresh_seconds``, so a
token created or revoked directly in a ClickHouse server reaches every instance.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from collector.store import Store, StoreError

log = logging.getLogger(__name__)

TOKEN_PREFIX = "snk_api_"
APP_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class TokenError(ValueError):
    """A token request that cannot be done; the message says why."""


@dataclass(frozen=True)
class Grant:
    token_id: str
    name: str
    apps: frozenset[str]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_apps(text: str) -> list[str]:
    apps = sorted({a.strip() for a in text.split(",") if a.strip()})
    if not apps:
        raise TokenError("apps: name at least one application id")
    bad = [a for a in apps if not APP_ID.match(a)]
    if bad:
        raise TokenError(f"apps: {bad[0]!r} is not an application id (letters, digits, . _ : -)")
    return apps


def create(store: Store, apps: list[str], name: str = "") -> dict:
    """A new token for ``apps``; the answer holds the token, the only time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {"TokenHash": hash_token(token), "TokenId": secrets.token_hex(6), "Name": name[:200],
           "AppIds": apps, "CreatedAt": _now(), "RevokedAt": None, "Version": time.time_ns()}
    store.insert("api_tokens", [list(row.values())], column_names=list(row))
    return {"id": row["TokenId"], "name": row["Name"], "apps": apps, "token": token}


def listing(store: Store) -> list[dict]:
    rows = store.dicts(
        "SELECT TokenId, Name, AppIds, toString(CreatedAt) AS Created, toString(RevokedAt) AS Revoked"
        " FROM api_tokens FINAL ORDER BY CreatedAt, TokenId"
    )
    return [{"id": r["TokenId"], "name": r["Name"], "apps": list(r["AppIds"]), "createdAt": r["Created"],
             "revokedAt": r["Revoked"]} for r in rows]


def revoke(store: Store, token_id: str) -> bool:
    """Mark a token revoked; False when no active token has this id."""
    rows = store.dicts(
        "SELECT TokenHash, TokenId, Name, AppIds, CreatedAt FROM api_tokens FINAL"
        " WHERE TokenId = {id:String} AND RevokedAt IS NULL",
        {"id": token_id},
    )
    if not rows:
        return False
    for row in rows:
        row.update(RevokedAt=_now(), Version=time.time_ns())
        store.insert("api_tokens", [list(row.values())], column_names=list(row))
    return True


def run_action(store: Store, action: str, args: dict):
    """One token command (create, list, revoke), for the CLI and the admin socket."""
    if action == "create":
        return create(store, parse_apps(str(args.get("apps", ""))), str(args.get("name") or ""))
    if action == "list":
        return listing(store)
    if action == "revoke":
        token_id = str(args.get("id", ""))
        if not revoke(store, token_id):
            raise TokenError(f"no active token has id {token_id!r}")
        return {"revoked": token_id}
    raise TokenError(f"unknown token action {action!r}")


def active(store: Store) -> dict[str, Grant]:
    rows = store.rows("SELECT TokenHash, TokenId, Name, AppIds FROM api_tokens FINAL WHERE RevokedAt IS NULL")
    return {h: Grant(i, n, frozenset(a)) for h, i, n, a in rows}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TokenCache:
    """The active tokens in memory, refreshed from the store in the background."""

    def __init__(self, store: Store, refresh_seconds: float):
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._grants: dict[str, Grant] = {}
        self._task: asyncio.Task | None = None

    def lookup(self, token: str) -> Grant | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        # Looked up by hash: a timing difference would tell a guesser about the
        # hash of its guess, not about any stored token.
        return self._grants.get(hash_token(token))

    async def reload(self) -> None:
        self._grants = await asyncio.to_thread(active, self.store)

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.reload()
            except StoreError as exc:  # keep the last good set; the store may be back soon
                log.warning("cannot refresh API tokens: %s", str(exc).splitlines()[0][:200])

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

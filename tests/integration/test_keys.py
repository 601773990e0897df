"""Runtime keys on a real store: create, list, revoke, and the cache's reload."""
from __future__ import annotations

import asyncio

import pytest

from collector import keys, migrate


@pytest.fixture
def store(fresh_store):
    migrate.migrate(fresh_store)
    return fresh_store


def test_create_stores_only_a_hash_and_list_shows_the_id(store):
    made = keys.create_key(store, "shop", "ci")
    assert made["key"].startswith("snk_live_")
    dump = store.rows("SELECT * FROM runtime_keys")
    assert made["key"] not in repr(dump)
    assert keys.active_keys(store) == {keys.hash_key(made["key"]): "shop"}
    assert [(k["id"], k["app_id"], k["name"], k["revoked_at"]) for k in keys.list_keys(store)] == [(made["id"], "shop", "ci", None)]
    assert store.rows("SELECT AppId FROM applications FINAL") == [("shop",)]


def test_revoke_by_id_and_refuse_unknown_or_ambiguous(store):
    first, second = keys.create_key(store, "a"), keys.create_key(store, "b")
    keys.revoke_key(store, first["id"])
    assert keys.active_keys(store) == {keys.hash_key(second["key"]): "b"}
    with pytest.raises(keys.KeyCommandError, match="no key"):
        keys.revoke_key(store, "snk_live_zzzzzzzz")
    with pytest.raises(keys.KeyCommandError, match="matches 2 keys"):
        keys.revoke_key(store, "snk_live_")
    keys.revoke_key(store, second["key"])  # the whole key works too
    assert keys.active_keys(store) == {}


def test_cache_sees_a_revocation_within_its_reload_interval(store):
    made = keys.create_key(store, "shop")

    async def scenario():
        cache = keys.KeyCache(store, reload_seconds=0.2)
        await cache.start()
        try:
            assert cache.app_for(made["key"]) == "shop"
            assert cache.app_for("snk_live_unknown") is None
            await asyncio.to_thread(keys.revoke_key, store, made["id"])
            await asyncio.sleep(0.6)
            assert cache.app_for(made["key"]) is None
        finally:
            await cache.shutdown()
            await cache.shutdown()

    asyncio.run(scenario())

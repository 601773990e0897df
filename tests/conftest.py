"""Shared fixtures.

In-process tests use one embedded store path for the whole run (the engine
allows one per process) and a fresh database per test. Set
COLLECTOR_TEST_STORE_URL=http://user:pass@host:8123 to run the same tests
against a ClickHouse server instead.
"""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import pytest

from collector.store import Store


@pytest.fixture(scope="session")
def store_base_url(tmp_path_factory) -> str:
    return os.environ.get("COLLECTOR_TEST_STORE_URL") or "chdb://" + str(tmp_path_factory.mktemp("chdb"))


def url_with_database(base: str, database: str) -> str:
    parsed = urlparse(base)
    if parsed.scheme == "chdb":
        return f"{base}?database={database}"
    return parsed._replace(path="/" + database).geturl()


@pytest.fixture
def store_url(store_base_url) -> str:
    return url_with_database(store_base_url, "t_" + uuid.uuid4().hex[:12])


@pytest.fixture
def fresh_store(store_url):
    """An open store on a database of its own, dropped afterwards."""
    store = Store(store_url).open()
    yield store
    try:
        store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
    finally:
        store.close()

"""Debian tools some tests need (Prometheus, promtool, HAProxy), installed when missing.

CI runs as root on a clean Debian machine: a missing tool is installed with apt-get
once per run. If that is impossible the test fails and says why; it never skips.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus", "haproxy": "haproxy"}
_updated = False


def ensure(binary: str) -> str:
    """The path of ``binary``, after installing its Debian package if needed."""
    global _updated
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if found:
        return found
    package = PACKAGES[binary]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(f"{binary} is missing and cannot be installed here: run as root on Debian, or `apt-get install {package}`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = ([] if _updated else [["apt-get", "update", "-qq"]]) + [["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, env=env, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(step)} failed ({result.returncode}): {result.stderr[-2000:]}")
    _updated = True
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if not found:
        pytest.fail(f"installed {package} but {binary} is still not on PATH")
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return ensure("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return ensure("prometheus")


@pytest.fixture(scope="session")
def haproxy_binary() -> str:
    return ensure("haproxy")

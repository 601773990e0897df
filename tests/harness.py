"""Test harness: the real service in its own process, on real sockets.

The embedded engine allows one database path per process, so every test that
needs a whole service gets a process of its own with a fresh data directory;
in-process store tests share one path (see ``conftest.py``) with a fresh
database each.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``collector serve`` in a subprocess with its own data directory and ports."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None):
        self.data_dir = Path(data_dir)
        self.grpc_port, self.http_port, self.api_port = free_port(), free_port(), free_port()
        self.env = dict(os.environ, **(env or {}))
        self.args = list(args or [])
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "collector", "serve",
            "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
            "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
            "--api-port", str(self.api_port), *self.args,
        ]

    def start(self, timeout: float = 60.0) -> "ServiceProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.api_url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"service did not become healthy in {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 30.0) -> int:
        """Graceful: SIGTERM, then wait."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """A crash: SIGKILL, no chance to flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


def run_cli(*args: str, data_dir: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``collector ARGS`` as a user would type it; returns the finished process."""
    command = [sys.executable, "-m", "collector", *args]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(command, cwd=ROOT, env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=timeout)

"""Service settings: one frozen dataclass, loaded once at start-up.

Every setting has a default, an environment variable (``COLLECTOR_<NAME>``) and a
command-line flag (``--name``); the flag wins over the variable. ``validate()``
reports every problem by the name the user wrote, so start-up fails with one
clear line per mistake instead of a traceback.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ENV_PREFIX = "COLLECTOR_"
STORE_SCHEMES = ("chdb", "http", "https")


class ConfigError(Exception):
    """A setting that cannot work; the message names the setting."""


@dataclass(frozen=True)
class Config:
    data_dir: str = field(default="./data", metadata={"help": "directory for the embedded store and the write-ahead log"})
    store_url: str = field(default="", metadata={"help": "chdb:///path (embedded, default <data_dir>/clickhouse) or http(s)://user:pass@host:8123/db"})
    host: str = field(default="0.0.0.0", metadata={"help": "address the receivers and the API listen on"})
    grpc_port: int = field(default=4317, metadata={"help": "OTLP/gRPC port"})
    http_port: int = field(default=4318, metadata={"help": "OTLP/HTTP port"})
    api_port: int = field(default=8080, metadata={"help": "query API, health and metrics port"})
    retention_days: int = field(default=30, metadata={"help": "days spans are kept before TTL drops them"})
    cluster: str = field(default="", metadata={"help": "ClickHouse cluster name for ON CLUSTER DDL (server stores only)"})
    log_format: str = field(default="text", metadata={"help": "text or json"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning or error"})
    drain_delay_ms: int = field(default=0, metadata={"help": "on SIGTERM, keep serving this long with /readyz answering 503 so load balancers move traffic away first"})
    # --- receiver settings ---
    max_body_bytes: int = field(default=16 << 20, metadata={"help": "largest OTLP request body accepted, counted after decompression (413 above)"})
    max_spans_per_request: int = field(default=50_000, metadata={"help": "most spans one export request may carry (413 above)"})
    max_attribute_value_length: int = field(default=16384, metadata={"help": "longer string attribute values are truncated to this many bytes"})
    max_concurrent_requests: int = field(default=64, metadata={"help": "export requests handled at once; more are told to retry (429 / UNAVAILABLE)"})
    key_reload_seconds: int = field(default=2, metadata={"help": "how often the runtime key cache reloads from the store (a revoked key stops working within this)"})
    # --- pipeline settings (write-ahead log, writer) ---
    wal_dir: str = field(default="", metadata={"help": "write-ahead log directory (default <data_dir>/wal)"})
    wal_max_bytes: int = field(default=1 << 30, metadata={"help": "disk budget of the write-ahead log; past it clients get 429/503"})
    wal_segment_max_bytes: int = field(default=16 << 20, metadata={"help": "a log segment is sealed and shipped at this size"})
    wal_segment_max_age_ms: int = field(default=1000, metadata={"help": "a log segment is sealed and shipped at this age"})
    wal_group_commit_us: int = field(default=0, metadata={"help": "extra wait before an fsync to gather more requests into it"})
    wal_inflight_max_bytes: int = field(default=64 << 20, metadata={"help": "bytes of requests waiting for the disk; past it clients get 429"})
    writer_insert_max_bytes: int = field(default=16 << 20, metadata={"help": "largest body of one insert into the store; larger means fewer parts to merge (less CPU per span) but more engine memory per insert (~20x)"})
    writer_retry_max_backoff_ms: int = field(default=30000, metadata={"help": "longest wait between retries of a failed insert"})
    shutdown_drain_timeout_ms: int = field(default=10000, metadata={"help": "time given at shutdown to ship what the log holds"})
    # --- API settings ---
    api_rate_limit: int = field(default=600, metadata={"help": "API requests per minute per client IP and route"})
    api_rate_limits: str = field(default="", metadata={"help": "per-route limits, ROUTE=N,... (ROUTE may end in *), e.g. /api/traces=120"})
    api_token_refresh_seconds: int = field(default=10, metadata={"help": "how often the API re-reads its tokens from the store"})
    api_trace_max_spans: int = field(default=10000, metadata={"help": "most spans one trace answer holds (the rest is reported, not sent)"})
    api_max_range_days: int = field(default=90, metadata={"help": "longest time range an API query may ask for"})
    api_max_buckets: int = field(default=1500, metadata={"help": "most buckets one analytics answer may have"})

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return "chdb://" + str((Path(self.data_dir) / "clickhouse").resolve())

    def validate(self) -> list[str]:
        """Every problem with these settings, each naming its setting."""
        problems = []
        scheme = urlparse(self.resolved_store_url).scheme
        if scheme not in STORE_SCHEMES:
            problems.append(
                f"store_url: unknown scheme {scheme!r} in {_redact(self.resolved_store_url)!r}; "
                f"use one of {', '.join(s + '://' for s in STORE_SCHEMES)}"
            )
        if self.cluster and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.cluster):
            problems.append(f"cluster: {self.cluster!r} must be a name of letters, digits, '_', '.' or '-'")
        if self.cluster and scheme == "chdb":
            problems.append("cluster: ON CLUSTER needs a ClickHouse server, not the embedded store")
        for name in ("grpc_port", "http_port", "api_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                problems.append(f"{name}: {port} is not a TCP port (0-65535)")
        if self.retention_days < 1:
            problems.append(f"retention_days: {self.retention_days} must be at least 1")
        if not 0 <= self.drain_delay_ms <= 600_000:
            problems.append(f"drain_delay_ms: {self.drain_delay_ms} must be between 0 and 600000")
        if self.log_format not in ("text", "json"):
            problems.append(f"log_format: {self.log_format!r} must be text or json")
        if self.log_level not in ("debug", "info", "warning", "error"):
            problems.append(f"log_level: {self.log_level!r} must be debug, info, warning or error")
        for name in ("max_body_bytes", "max_spans_per_request", "max_attribute_value_length", "max_concurrent_requests", "key_reload_seconds"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: {getattr(self, name)} must be at least 1")
        problems.extend(self._api_problems())
        problems.extend(_check_writable_dir("data_dir", Path(self.data_dir)))
        problems.extend(self._pipeline_problems())
        return problems


    def _pipeline_problems(self) -> list[str]:
        problems = [
            f"{name}: {getattr(self, name)} must be at least {low}"
            for name, low in (("wal_max_bytes", 1 << 20), ("wal_segment_max_bytes", 4096), ("wal_segment_max_age_ms", 10),
                              ("wal_group_commit_us", 0), ("wal_inflight_max_bytes", 1 << 20),
                              ("writer_insert_max_bytes", 4096), ("writer_retry_max_backoff_ms", 100),
                              ("shutdown_drain_timeout_ms", 0))
            if getattr(self, name) < low
        ]
        if self.wal_segment_max_bytes > self.wal_max_bytes // 4:
            problems.append("wal_segment_max_bytes: must be at most a quarter of wal_max_bytes, or the budget holds too few segments")
        if self.wal_inflight_max_bytes > self.wal_max_bytes:
            problems.append("wal_inflight_max_bytes: must not exceed wal_max_bytes")
        if self.wal_inflight_max_bytes < self.max_body_bytes + 4096:
            problems.append("wal_inflight_max_bytes: must exceed max_body_bytes, or the largest request is never accepted")
        if self.wal_dir:
            problems.extend(_check_writable_dir("wal_dir", Path(self.wal_dir)))
        return problems


    def _api_problems(self) -> list[str]:
        from collector.ratelimit import RateLimitSpecError, parse_limits

        problems = []
        for name, lo, hi in (("api_rate_limit", 1, 10**7), ("api_token_refresh_seconds", 1, 3600),
                             ("api_trace_max_spans", 1, 10**6), ("api_max_range_days", 1, 3660), ("api_max_buckets", 10, 10**5)):
            if not lo <= getattr(self, name) <= hi:
                problems.append(f"{name}: {getattr(self, name)} must be between {lo} and {hi}")
        try:
            parse_limits(self.api_rate_limits)
        except RateLimitSpecError as exc:
            problems.append(f"api_rate_limits: {exc}")
        return problems


def _check_writable_dir(name: str, path: Path) -> list[str]:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return [f"{name}: {path} is not a writable directory ({exc.strerror or exc})"]
    return []


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(":" + parsed.password + "@", ":***@")
    return url


def settings_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Config))


def load(overrides: dict | None = None, environ: dict | None = None) -> Config:
    """Defaults, then ``COLLECTOR_*`` variables, then explicit overrides (flags)."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    problems = []
    for f in settings_fields():
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if overrides and overrides.get(f.name) is not None:
            raw = overrides[f.name]
        if raw is None:
            continue
        try:
            values[f.name] = _coerce(f, raw)
        except ValueError:
            problems.append(f"{f.name}: {raw!r} is not a valid {f.type}")
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(**values)


def _coerce(f: dataclasses.Field, raw):
    if f.type in ("int", int):
        return int(raw)
    return str(raw)

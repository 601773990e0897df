"""Requests and answers of the API: query values checked one by one, JSON out.

Every value a handler uses goes through here: bounded length, an expected shape,
a range. Whatever fails is a ``BadRequest`` (400) saying which parameter and why.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

import orjson
from aiohttp import web


_STATUS = re.compile(r"^([1-5])(\d\d|xx)$", re.IGNORECASE)
_METHOD = re.compile(r"^[A-Za-z]{1,16}$")
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{0,64}$")


class BadRequest(ValueError):
    """A request the API refuses with 400; the message says what to fix."""


# The caller's token grant (collector.tokens.Grant), set by the auth middleware.
GRANT = web.RequestKey("grant", object)


class HttpError(Exception):
    """An answer other than 400 that a handler decides on (401, 404)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def json_response(body, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def requested_apps(request: web.Request, params: "Params") -> list[str]:
    """The applications a query covers: the ``app`` list, or all the token grants."""
    granted = request[GRANT].apps
    value = params.text("app", 2048)
    if value is None:
        return sorted(granted)
    asked = sorted({a.strip() for a in value.split(",") if a.strip()})
    for app in asked:
        if app not in granted:
            raise HttpError(404, f"Application {app[:128]!r} not found")
    return asked or sorted(granted)


class Params:
    def __init__(self, query):
        self.query = query

    def text(self, name: str, max_len: int = 512) -> str | None:
        value = self.query.get(name)
        if value is None or value == "":
            return None
        if len(value) > max_len:
            raise BadRequest(f"{name}: longer than {max_len} characters")
        if "\x00" in value:
            raise BadRequest(f"{name}: contains a NUL character")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.text(name, 20)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise BadRequest(f"{name}: {value!r} is not an integer") from None
        if not lo <= number <= hi:
            raise BadRequest(f"{name}: {number} is outside {lo}..{hi}")
        return number

    def boolean(self, name: str) -> bool:
        value = self.text(name, 5)
        if value is None:
            return False
        if value.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"{name}: {value!r} must be true or false")
        return value.lower() in ("true", "1")

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, 32) or default
        if value not in allowed:
            raise BadRequest(f"{name}: {value!r} must be one of {', '.join(allowed)}")
        return value

    def status(self, name: str = "status") -> tuple[int, int] | None:
        """``404`` -> (404, 404); ``5xx`` -> (500, 599)."""
        value = self.text(name, 3)
        if value is None:
            return None
        match = _STATUS.match(value)
        if not match:
            raise BadRequest(f"{name}: {value!r} must be a status code (100-599) or a class like 5xx")
        if match.group(2).lower() == "xx":
            first = int(match.group(1)) * 100
            return first, first + 99
        return int(value), int(value)

    def method(self) -> str | None:
        value = self.text("method", 16)
        if value is not None and not _METHOD.match(value):
            raise BadRequest(f"method: {value!r} is not an HTTP method")
        return value.upper() if value else None

    def ip(self) -> str | None:
        value = self.text("ip", 64)
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise BadRequest(f"ip: {value!r} is not an IPv4 or IPv6 address") from None
        return value

    def min_duration_ns(self) -> int | None:
        value = self.text("minDuration", 20)
        if value is None:
            return None
        try:
            ms = float(value)
        except ValueError:
            raise BadRequest(f"minDuration: {value!r} is not a number of milliseconds") from None
        if not 0 <= ms <= 86_400_000:
            raise BadRequest(f"minDuration: {value!r} must be between 0 and 86400000 milliseconds")
        return int(ms * 1_000_000)


def trace_id(value: str) -> str:
    if not _TRACE_ID.match(value):
        raise BadRequest("traceId: must be 32 hexadecimal characters")
    return value.lower()


def fingerprint(filters: dict, apps: list[str]) -> str:
    """A short digest of a query's filters, so a cursor cannot be used with others."""
    data = orjson.dumps({"f": filters, "a": sorted(apps)}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:16]


def encode_cursor(start_ns: int, span_id: str, from_ns: int, to_ns: int, print_: str) -> str:
    raw = orjson.dumps([1, start_ns, span_id, from_ns, to_ns, print_])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str, print_: str) -> tuple[int, str, int, int]:
    """(start_ns, span_id, from_ns, to_ns) of a cursor made for these filters."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        version, start_ns, span_id, from_ns, to_ns, made_for = orjson.loads(raw)
        valid = (version == 1 and all(isinstance(n, int) and 0 <= n < 1 << 63 for n in (start_ns, from_ns, to_ns))
                 and isinstance(span_id, str) and _SPAN_ID.match(span_id) and from_ns < to_ns)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise BadRequest("cursor: not a cursor this API gave out")
    if made_for != print_:
        raise BadRequest("cursor: was made for other filters; start again without a cursor")
    return start_ns, span_id, from_ns, to_ns


def duration_ms(ns: int) -> float:
    return round(ns / 1_000_000, 6)

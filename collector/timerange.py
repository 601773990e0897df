"""Time ranges of API queries: parsing, limits and analytics bucket sizes.

A time is absolute ISO 8601 (``2026-12-03T10:00:00Z``; a time without offset is
UTC) or relative to now (``15m``, ``24h``, ``7d``: that long ago). Everything is
kept as integer nanoseconds since the epoch, so no time zone of the process or of
the store can shift a bucket edge.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

NS = 1_000_000_000
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
# Earliest and latest times a query may name: older or later is surely a mistake.
EARLIEST_NS = 946_684_800 * NS  # 2000-01-01
LATEST_NS = 4_102_444_800 * NS  # 2100-01-01
# Analytics bucket sizes offered when none is asked for, smallest first.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NICE_INTERVALS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


class BadRange(ValueError):
    """A time, range or interval the API refuses; the message says why."""


@dataclass(frozen=True)
class TimeRange:
    start_ns: int  # inclusive
    end_ns: int  # exclusive

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS

    def aligned(self, step_s: int) -> "TimeRange":
        """Widened to whole steps counted from the epoch (UTC edges)."""
        step = step_s * NS
        start = self.start_ns - self.start_ns % step
        end = -(-self.end_ns // step) * step
        return TimeRange(start, end)


def parse_duration(text: str, name: str) -> int:
    """``15m`` -> 900 seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise BadRange(f"{name}: {text!r} is not a duration like 30s, 15m, 24h, 7d or 2w")
    return int(match.group(1)) * UNITS[match.group(2)]


def parse_time(text: str, name: str, now_ns: int) -> int:
    """An absolute or relative time, in ns since the epoch."""
    text = text.strip()
    if _DURATION.match(text):
        ns = now_ns - parse_duration(text, name) * NS
    else:
        ns = _absolute(text, name)
    if not EARLIEST_NS <= ns <= LATEST_NS:
        raise BadRange(f"{name}: {text!r} is outside the years 2000-2100")
    return ns


def _absolute(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        delta = moment - EPOCH  # exact, unlike a float timestamp()
        return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000
    except (ValueError, OverflowError):
        raise BadRange(f"{name}: {text!r} is neither an ISO 8601 time nor a relative time like 15m, 24h, 7d") from None


def parse_range(start: str | None, end: str | None, default_s: int, max_s: int, now_ns: int | None = None) -> TimeRange:
    """``from``/``to`` query values to a range; ``to`` defaults to now."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ns = parse_time(end, "to", now_ns) if end else now_ns
    start_ns = parse_time(start, "from", now_ns) if start else end_ns - default_s * NS
    if start_ns >= end_ns:
        raise BadRange("from: must be earlier than to")
    if end_ns - start_ns > max_s * NS:
        raise BadRange(f"from/to: the range is longer than the maximum of {max_s // 86400} days")
    return TimeRange(start_ns, end_ns)


def choose_interval(rng: TimeRange, asked: str | None, max_buckets: int, target_buckets: int = 200) -> int:
    """Bucket size in seconds: the one asked for, or a nice one for the range."""
    if asked:
        step = parse_duration(asked, "interval")
        if step < 60 or step % 60:
            raise BadRange(f"interval: {asked!r} must be a whole number of minutes (the rollups are per minute)")
        if rng.aligned(step).seconds / step > max_buckets:
            raise BadRange(f"interval: {asked!r} gives more than {max_buckets} buckets over this range; use a longer one")
        return step
    for step in NICE_INTERVALS:
        if rng.aligned(step).seconds / step <= target_buckets:
            return step
    return NICE_INTERVALS[-1]


def iso(ns: int) -> str:
    """RFC 3339 UTC with as many fractional digits as needed (up to ns)."""
    seconds, frac = divmod(ns, NS)
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"

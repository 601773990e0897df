"""The shape of an OTLP/JSON request that can go to the store unchanged.

msgspec checks a body against these types in C: only the fields ClickHouse
reads and the receiver checks are declared (unknown fields are skipped), each
as narrow as, or narrower than, what ``otlp_checks``' full walk accepts. A body
that fits needs no change; one that does not fit is not necessarily bad: it
goes to the full walk, which finds out what to refuse, drop or rewrite.

One difference: msgspec skips unread fields without parsing their numbers, so
a number beyond a double's range there (valid JSON; ClickHouse reads such a
field as text or skips it) passes, where the walk's orjson refuses the body.

Span ids and times are typed only loosely here (msgspec runs a regex per
value, which costs more than decoding it); ``otlp_checks`` checks them over
all spans at once.
"""
from __future__ import annotations

import functools
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

# Strings of digits that surely fit: up to 8999999999999999999 for an int64, 19 digits
# for a uint64; longer ones go to the walk.
Int64 = (
    Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, Meta(pattern=r"^-?(?:[0-9]{1,18}|[0-8][0-9]{18})\Z")]
)
UInt64 = Annotated[int, Meta(ge=0, le=2**63 - 1)] | Annotated[str, Meta(pattern=r"^[0-9]{1,19}\Z")]
Int32 = Annotated[int, Meta(ge=-(2**31), lt=2**31)]
# span times: the digits are checked for all spans at once (otlp_checks._valid_spans)
Time = Annotated[int, Meta(ge=0, le=2**63 - 1)] | Annotated[str, Meta(min_length=1, max_length=19)]


class Element(Struct, gc=False):
    """An AnyValue; a member given as null is refused, as by the full walk."""

    stringValue: str | UnsetType = UNSET
    boolValue: bool | UnsetType = UNSET
    intValue: Int64 | UnsetType = UNSET
    doubleValue: float | UnsetType = UNSET
    bytesValue: str | UnsetType = UNSET
    arrayValue: Array | UnsetType = UNSET


class Array(Struct, gc=False):
    values: list[Element] | None = None


V = TypeVar("V")  # an attribute's value: an Element whose string is not over the limit


class KeyValue(Struct, Generic[V], gc=False):
    value: V | None = None


class Resource(Struct, Generic[V], gc=False):
    attributes: list[KeyValue[V]] | None = None


class Event(Struct, Generic[V], gc=False):
    timeUnixNano: UInt64 = 0
    attributes: list[KeyValue[V]] | None = None


class Link(Struct, Generic[V], gc=False):
    attributes: list[KeyValue[V]] | None = None


class Status(Struct, gc=False):
    code: Int32 = 0  # a name (some senders write them) is rewritten by the walk


class Span(Struct, Generic[V], gc=False):
    traceId: Annotated[str, Meta(min_length=32, max_length=32)]
    spanId: Annotated[str, Meta(min_length=16, max_length=16)]
    startTimeUnixNano: Time
    endTimeUnixNano: Time
    parentSpanId: Annotated[str, Meta(max_length=16)] = ""
    kind: Int32 = 0
    status: Status | None = None
    attributes: list[KeyValue[V]] | None = None
    events: list[Event[V]] | None = None
    links: list[Link[V]] | None = None


class Scope(Struct, gc=False):
    """Its fields are read as text; the store needs it to be an object."""


class ScopeSpans(Struct, Generic[V], gc=False):
    scope: Scope | None = None
    spans: list[Span[V]] | None = None


class ResourceSpans(Struct, Generic[V], gc=False):
    resource: Resource[V] | None = None
    scopeSpans: list[ScopeSpans[V]] | None = None


class Request(Struct, Generic[V], gc=False):
    resourceSpans: list[ResourceSpans[V]] | None = None
    # the landing record's own fields: present means the walk must remove them
    appId: Any = UNSET
    receivedUnixNano: Any = UNSET


@functools.lru_cache(maxsize=8)
def decoder(max_value_length: int) -> msgspec.json.Decoder:
    """A decoder of requests whose attributes' strings are at most ``max_value_length``
    characters (the walk truncates longer ones; strings inside arrays are not cut)."""
    text = Annotated[str, Meta(max_length=max_value_length)]
    value = msgspec.defstruct("Value", [("stringValue", text | UnsetType, UNSET)], bases=(Element,), gc=False)
    return msgspec.json.Decoder(Request[value])

"""A trace's spans as a tree: parents before children, siblings by start time."""
from __future__ import annotations

from collector.apiparams import duration_ms
from collector.timerange import iso


def tree_order(spans: list[dict]) -> list[tuple[dict, int]]:
    """(span, depth) depth-first. A span whose parent is missing (not received, or
    cut by the cap) is a root of its own, so no span is ever dropped."""
    ids = {s["SpanId"] for s in spans}
    children: dict[str, list[dict]] = {}
    roots = []
    for span in sorted(spans, key=lambda s: (s["StartNs"], s["SpanId"])):
        parent = span["ParentSpanId"]
        if parent and parent in ids and parent != span["SpanId"]:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    ordered, seen = [], set()
    stack = [(s, 0) for s in reversed(roots)]
    while stack:  # iterative: a 100,000-deep chain must not hit the recursion limit
        span, depth = stack.pop()
        if span["SpanId"] in seen:
            continue
        seen.add(span["SpanId"])
        ordered.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(span["SpanId"], [])))
    # Spans only reachable through a cycle of parents (corrupt data) still appear.
    ordered.extend((s, 0) for s in spans if s["SpanId"] not in seen and not seen.add(s["SpanId"]))
    return ordered


def span_json(s: dict, depth: int) -> dict:
    return {
        "spanId": s["SpanId"], "parentSpanId": s["ParentSpanId"] or None, "depth": depth,
        "name": s["SpanName"], "kind": s["SpanKind"], "service": s["ServiceName"], "appId": s["AppId"],
        "start": iso(s["StartNs"]), "startUnixNano": str(s["StartNs"]), "durationMs": duration_ms(s["Duration"]),
        "status": {"code": s["StatusCode"], "message": s["StatusMessage"]},
        "attributes": s["SpanAttributes"], "resourceAttributes": s["ResourceAttributes"],
        "scope": {"name": s["ScopeName"], "version": s["ScopeVersion"]}, "traceState": s["TraceState"],
        "events": [{"time": iso(t), "name": n, "attributes": a}
                   for t, n, a in zip(s["EventTimes"], s["EventNames"], s["EventAttributes"])],
        "links": [{"traceId": t, "spanId": i, "traceState": st, "attributes": a}
                  for t, i, st, a in zip(s["LinkTraceIds"], s["LinkSpanIds"], s["LinkTraceStates"], s["LinkAttributes"])],
    }

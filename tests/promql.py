"""Small helpers over the deploy/ files for the tests: PromQL names, dashboard queries."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from collector import exposition, metrics

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
CLICKHOUSE_ALERTS = DEPLOY / "prometheus" / "clickhouse-alerts.yml"

_KEYWORDS = {"by", "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"}
# Grafana's variables, as a query sees them after Grafana filled them in.
GRAFANA_VARIABLES = {"$__rate_interval": "15s", "$__interval": "5s", "$__range": "1m", '"$instance"': '".*"'}


def declared_metric_names() -> set[str]:
    """Every sample name /metrics can carry, and Prometheus' own ``up``."""
    exposition.add_process_collectors()
    names = {"up"}
    for family in metrics.REGISTRY.collect():
        names.add(family.name)
        kind = family.type
        suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_count", "_sum", "_created"]}.get(kind, [])
        names.update(family.name + s for s in suffixes)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end():].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue
        if re.fullmatch(r"\d.*|e\d+", name):
            continue
        found.add(name)
    return found


def panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def load_dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def dashboard_promql() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expression) for every Prometheus target of every panel."""
    found = []
    for name, dashboard in load_dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((name, panel["title"], target["expr"]))
    return found


def dashboard_sql() -> list[tuple[str, str, str]]:
    found = []
    for name, dashboard in load_dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "rawSql" in target:
                    found.append((name, panel["title"], target["rawSql"]))
    return found


def fill_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def alert_rules(path: Path = ALERTS) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


_THRESHOLD = re.compile(r"^(?P<value>.+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<threshold>-?[0-9.e+]+)$", re.DOTALL)


def alert_value(expr: str) -> str:
    """The value an alert compares: every alert is written "<value> <op> <threshold>"."""
    match = _THRESHOLD.match(expr.strip())
    if match is None:
        raise ValueError(f"alert expression is not '<value> <op> <number>': {expr}")
    return match.group("value")

"""deploy/ checked against the project: every file, port, volume and setting it names exists."""
from __future__ import annotations

import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from collector import cli, config
from tests import promql
from tests.tools import haproxy_binary, promtool  # noqa: F401 (fixtures)

DEPLOY = promql.DEPLOY
ROOT = DEPLOY.parent
COMPOSE_FILES = [DEPLOY / "single" / "compose.yaml", DEPLOY / "cluster" / "compose.yaml"]
SETTINGS = {config.ENV_PREFIX + f.name.upper() for f in config.settings_fields()}
COLLECTOR_IMAGE = "snk-collector"
CLICKHOUSE_PORTS = {8123, 9000, 9009}  # the server image's HTTP, native and interserver ports
HAPROXY_CFG = DEPLOY / "haproxy" / "haproxy.cfg"


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default}, with the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def collector_config(environment: dict, tmp_path: Path) -> config.Config:
    env = {k: interpolate(v) for k, v in environment.items()}
    cfg = config.load(environ=env)
    problems = config.Config(**{**cfg.__dict__, "data_dir": str(tmp_path)}).validate()
    assert problems == [], problems
    return cfg


def parses_as_cli(args: list[str]) -> None:
    parsed = cli.build_parser().parse_args(args)
    assert parsed.command in cli.COMMANDS


def container_ports(service: dict) -> set[int]:
    ports = set()
    for mapping in service.get("ports", []) + service.get("expose", []):
        ports.add(int(str(mapping).split(":")[-1].split("/")[0]))
    return ports


def xml_port(path: Path, tag: str) -> int:
    return int(ET.parse(path).getroot().find(f".//{tag}").text)


def haproxy() -> tuple[set[int], list[tuple[str, int, int | None]]]:
    """Ports HAProxy binds, and (host, port, check port) of every server line."""
    text = HAPROXY_CFG.read_text()
    binds = {int(p) for p in re.findall(r"^\s*bind :(\d+)", text, re.MULTILINE)}
    servers = [
        (host, int(port), int(check) if check else None)
        for host, port, check in re.findall(r"^\s*server \S+ ([\w.-]+):(\d+)(?: port (\d+))?", text, re.MULTILINE)
    ]
    return binds, servers


def service_ports(compose: dict, name: str, tmp_path: Path) -> set[int]:
    """Every port a compose service listens on, from the file that configures it."""
    service = compose["services"][name]
    image = service.get("image", "")
    if image.startswith(COLLECTOR_IMAGE):
        cfg = collector_config(service.get("environment", {}), tmp_path)
        return {cfg.grpc_port, cfg.http_port, cfg.api_port}
    if image.startswith("clickhouse/clickhouse-server"):
        return CLICKHOUSE_PORTS | {xml_port(DEPLOY / "clickhouse" / "config.d" / "prometheus.xml", "port")}
    if image.startswith("haproxy"):
        return haproxy()[0]
    if image.startswith("prom/prometheus"):
        return {9090}
    if image.startswith("grafana/grafana"):
        return {3000}
    raise AssertionError(f"no known ports for {name} ({image})")


@pytest.fixture(params=COMPOSE_FILES, ids=lambda p: p.parent.name)
def compose(request) -> tuple[Path, dict]:
    return request.param, yaml.safe_load(request.param.read_text())


def mounts(service: dict) -> list[tuple[str, str]]:
    return [tuple(str(v).split(":")[:2]) for v in service.get("volumes", [])]


def test_compose_builds_mounts_and_volumes_exist(compose):
    path, doc = compose
    for name, service in doc["services"].items():
        if "build" in service:
            context = (path.parent / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for source, _ in mounts(service):
            if source.startswith((".", "/")):
                assert (path.parent / source).exists(), f"{name}: {source}"
            else:
                assert source in doc["volumes"], f"{name}: volume {source} not declared"


def test_compose_collectors_have_valid_settings_commands_and_ports(compose, tmp_path):
    path, doc = compose
    collectors = {n: s for n, s in doc["services"].items() if s.get("image", "").startswith(COLLECTOR_IMAGE)}
    assert collectors
    wal_volumes = []
    for name, service in collectors.items():
        env = service.get("environment", {})
        assert set(k for k in env if k.startswith(config.ENV_PREFIX)) <= SETTINGS, name
        cfg = collector_config(env, tmp_path)
        parses_as_cli(service["command"])
        assert container_ports(service) <= {cfg.grpc_port, cfg.http_port, cfg.api_port}, name
        store = re.match(r"https?://[^@]+@([\w.-]+):(\d+)/", interpolate(env["COLLECTOR_STORE_URL"]))
        assert store and int(store.group(2)) in service_ports(doc, store.group(1), tmp_path), name
        wal = [source for source, target in mounts(service) if target == cfg.data_dir]
        assert len(wal) == 1, f"{name}: its data_dir {cfg.data_dir} is not on a volume"
        if service["command"][0] == "serve":
            wal_volumes.append(wal[0])
    assert len(wal_volumes) == len(set(wal_volumes)), "each collector needs its own log volume"


def test_compose_other_services_name_existing_ports(compose, tmp_path):
    path, doc = compose
    for name, service in doc["services"].items():
        if "ports" in service:
            assert container_ports(service) <= service_ports(doc, name, tmp_path), name


def test_prometheus_scrapes_what_compose_runs(compose, tmp_path):
    path, doc = compose
    config_file = next(
        path.parent / source for s in doc["services"].values() for source, target in mounts(s)
        if target == "/etc/prometheus/prometheus.yml"
    )
    scrape = yaml.safe_load(config_file.read_text())
    mounted = {target for s in doc["services"].values() for _, target in mounts(s)}
    assert set(scrape["rule_files"]) <= mounted
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert "collector" in jobs
    for job in jobs.values():
        for target in job["static_configs"][0]["targets"]:
            host, port = target.split(":")
            assert int(port) in service_ports(doc, host, tmp_path), target


def test_grafana_and_clickhouse_get_every_variable_their_files_read(compose):
    path, doc = compose
    for name, service in doc["services"].items():
        env = set(service.get("environment", {}))
        for source, _ in mounts(service):
            file = path.parent / source
            if not source.startswith(".") or not file.exists():
                continue
            files = [file] if file.is_file() else [f for f in file.rglob("*") if f.is_file()]
            for f in files:
                text = f.read_text()
                wanted = set(re.findall(r'from_env="(\w+)"', text)) | set(re.findall(r"\$\{(\w+)\}", text) if f.suffix == ".yaml" else [])
                assert wanted <= env, f"{name}: {f.name} reads {wanted - env}"


def test_cluster_compose_matches_haproxy_clickhouse_and_keeper_configs(tmp_path):
    doc = yaml.safe_load(COMPOSE_FILES[1].read_text())
    services = doc["services"]
    binds, servers = haproxy()
    assert container_ports(services["haproxy"]) <= binds  # ClickHouse's 8123 and 9000 stay inside
    for host, port, check in servers:
        assert port in service_ports(doc, host, tmp_path) and (check is None or check in service_ports(doc, host, tmp_path)), host
    cluster = ET.parse(DEPLOY / "clickhouse" / "cluster" / "config.d" / "cluster.xml").getroot()
    (cluster_name,) = [c.tag for c in cluster.find("remote_servers")]
    hosts = {h.text for h in cluster.find("remote_servers").iter("host")}
    assert hosts <= set(services) and hosts == {h for h, _, _ in servers if h.startswith("ch-")}
    keeper_hosts = {h.text for h in ET.parse(DEPLOY / "clickhouse" / "keeper" / "keeper.xml").getroot().iter("hostname")}
    assert keeper_hosts == {h.text for h in cluster.find("zookeeper").iter("host")} and keeper_hosts <= set(services)
    assert services["migrate"]["command"] == ["migrate", "--cluster", cluster_name]
    assert all(s["environment"]["COLLECTOR_CLUSTER"] == cluster_name for n, s in services.items() if n.startswith("collector-"))
    replicas = {(s["environment"]["SHARD"], s["environment"]["REPLICA"]) for n, s in services.items() if n.startswith("ch-")}
    assert len(replicas) == 4 and len({r for _, r in replicas}) == 4


# --- Dockerfile ---

def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_exposes_and_runs_what_exists():
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    for op, rest in instructions:
        if op == "COPY":
            assert all((ROOT / s).exists() for s in rest.split()[:-1]), rest
        if op == "EXPOSE":
            defaults = config.Config()
            assert {int(p) for p in rest.split()} == {defaults.grpc_port, defaults.http_port, defaults.api_port}
        if op == "ENV":
            names = {n for n in re.findall(r"(\w+)=", rest) if n.startswith(config.ENV_PREFIX)}
            assert names <= SETTINGS
    import json
    entry = json.loads(dict(instructions)["ENTRYPOINT"])
    assert entry == ["collector"]
    parses_as_cli(json.loads(dict(instructions)["CMD"]))


# --- Kubernetes ---

def k8s_documents() -> list[dict]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / "k8s" / resource).read_text()) if d]
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    return docs


def pod_specs(docs) -> list[tuple[dict, dict]]:
    """(workload, pod spec) of every Deployment, StatefulSet and Job."""
    return [(d, d["spec"]["template"]["spec"]) for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def test_k8s_references_resolve():
    docs = k8s_documents()
    by_kind = lambda kind: {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}
    config_maps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    for workload, spec in pod_specs(docs):
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        for container in spec["containers"]:
            env_names = set()
            for source in container.get("envFrom", []):
                env_names |= set(config_maps[source["configMapRef"]["name"]]["data"])
            for var in container.get("env", []):
                env_names.add(var["name"])
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["stringData"], ref
            assert {n for n in env_names if n.startswith(config.ENV_PREFIX)} <= SETTINGS
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, mount
            if container["image"].startswith(COLLECTOR_IMAGE):
                parses_as_cli(container["args"])
                port_names = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
                defaults = config.Config()
                assert set(port_names.values()) <= {defaults.grpc_port, defaults.http_port, defaults.api_port}
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe in container:
                        assert container[probe]["httpGet"]["port"] in port_names
                        assert container[probe]["httpGet"]["path"] in ("/healthz", "/readyz")
                data_dir = next(v["value"] for v in container.get("env", []) if v["name"] == "COLLECTOR_DATA_DIR") \
                    if any(v["name"] == "COLLECTOR_DATA_DIR" for v in container.get("env", [])) \
                    else config_maps["collector-settings"]["data"]["COLLECTOR_DATA_DIR"]
                assert data_dir in {m["mountPath"] for m in container.get("volumeMounts", [])}


def test_k8s_services_point_at_pod_ports_and_cluster_names_agree():
    docs = k8s_documents()
    pods = pod_specs(docs)
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        matched = [s for w, s in pods if selector.items() <= w["spec"]["template"].get("metadata", {}).get("labels", {}).items()]
        assert matched, service["metadata"]["name"]
        names = {p["name"] for s in matched for c in s["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, port
    (chi,) = [d for d in docs if d["kind"] == "ClickHouseInstallation"]
    (cluster,) = chi["spec"]["configuration"]["clusters"]
    (chk,) = [d for d in docs if d["kind"] == "ClickHouseKeeperInstallation"]
    assert chi["spec"]["configuration"]["zookeeper"]["nodes"][0]["host"] == "keeper-" + chk["metadata"]["name"]
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "collector-settings")["data"]
    assert settings["COLLECTOR_CLUSTER"] == cluster["name"]
    job = next(w for w, _ in pods if w["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--cluster", cluster["name"]]
    namespace, secret, key = chi["spec"]["configuration"]["users"]["collector/k8s_secret_password"].split("/")
    stored = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == secret)
    assert stored["metadata"]["namespace"] == namespace and key in stored["stringData"]
    assert re.match(rf"http://collector:[^@]+@clickhouse-{chi['metadata']['name']}\.{namespace}\.svc:8123/\w+$", stored["stringData"]["store-url"])


# --- dashboards, alerts, Prometheus and HAProxy configs ---

def test_dashboards_use_only_declared_metrics_and_provisioned_datasources():
    declared = promql.declared_metric_names()
    provisioned = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    expressions = promql.dashboard_promql()
    assert len(expressions) >= 20
    for dashboard, title, expr in expressions:
        names = promql.metric_names(expr)
        assert names and names <= declared, f"{dashboard} / {title}: {names - declared}"
    for dashboard in promql.load_dashboards().values():
        for panel in promql.panels(dashboard):
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, panel["title"]
    assert len(promql.dashboard_sql()) >= 8
    titles = {d["title"] for d in promql.load_dashboards().values()}
    assert titles == {"Collector: ingest health", "Collector: HTTP analytics"}


def test_alert_rules_are_valid_and_use_declared_metrics(promtool):
    result = subprocess.run([promtool, "check", "rules", str(promql.ALERTS), str(promql.CLICKHOUSE_ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    declared = promql.declared_metric_names()
    for rule in promql.alert_rules():
        assert promql.metric_names(promql.alert_value(rule["expr"])) <= declared, rule["alert"]


@pytest.mark.parametrize("name", ["prometheus-single.yml", "prometheus-cluster.yml"])
def test_prometheus_configs_are_valid(name, tmp_path, promtool):
    text = (DEPLOY / "prometheus" / name).read_text().replace("/etc/prometheus/", str(DEPLOY / "prometheus") + "/")
    (tmp_path / name).write_text(text)
    result = subprocess.run([promtool, "check", "config", str(tmp_path / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_haproxy_config_is_valid(haproxy_binary):
    result = subprocess.run([haproxy_binary, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True)
    assert result.returncode == 0 and "Configuration file is valid" in result.stdout + result.stderr, result.stderr

"""The service as a user runs it: a real process, real ports, an embedded store on disk."""
import json
import urllib.request

from tests.harness import ServiceProcess, free_port, run_cli


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, json.load(resp)


def test_serves_health_and_keeps_data_across_restarts(tmp_path):
    data = tmp_path / "data"
    with ServiceProcess(data) as svc:
        assert get_json(svc.api_url + "/healthz") == (200, {"status": "ok"})
        status, body = get_json(svc.api_url + "/readyz")
        assert status == 200 and "store" in body["checks"]
    assert svc.proc.returncode == 0, svc.log()
    assert (data / "clickhouse").is_dir()

    marker = run_cli("sql", "INSERT INTO applications (AppId, Name, CreatedAt, Version) VALUES ('kept', 'Kept', now64(3), 1)", data_dir=data)
    assert marker.returncode == 0, marker.stderr

    with ServiceProcess(data) as svc:
        assert get_json(svc.api_url + "/healthz")[0] == 200
    assert svc.proc.returncode == 0, svc.log()
    out = run_cli("sql", "SELECT Name FROM applications FINAL WHERE AppId = 'kept'", data_dir=data)
    assert out.stdout.strip() == "Kept"
    assert "applying migration" not in svc.log().split("collector ready")[-1]


def test_migrate_command_is_idempotent(tmp_path):
    first = run_cli("migrate", data_dir=tmp_path)
    second = run_cli("migrate", data_dir=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr
    assert second.stdout.startswith("applied 0 migration(s)")


def one_line_error(result, setting: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1 and lines[0].startswith(f"collector: {setting}: "), result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_store_scheme_stops_start_up_with_one_line(tmp_path):
    one_line_error(run_cli("serve", "--store-url", "postgres://db/x", data_dir=tmp_path), "store_url")


def test_unwritable_data_dir_stops_start_up_with_one_line(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    one_line_error(run_cli("serve", data_dir=blocker / "data"), "data_dir")


def test_unreachable_server_stops_start_up_with_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/default"
    one_line_error(run_cli("serve", "--store-url", url, data_dir=tmp_path), "store_url")


def test_second_instance_on_same_data_dir_is_refused(tmp_path):
    with ServiceProcess(tmp_path / "data"):
        one_line_error(run_cli("migrate", data_dir=tmp_path / "data"), "store_url")

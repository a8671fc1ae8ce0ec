"""docker-compose.yml, the Dockerfile and the Prometheus scrape config agree with the code.

There is no Docker engine here, so this checks the structure `docker compose up` relies on.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from pipeline.settings import REPO_ROOT, Settings, load_settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PIPELINE_SERVICES = ("topics", "ingress", "worker", "poller")
LONG_RUNNING = ("kafka", "ingress", "worker", "poller", "prometheus", "grafana")
# Each pipeline process and the setting that holds its port.
PROCESS_PORTS = {"ingress": "ingress_port", "worker": "worker_web_port", "poller": "poller_port"}
_DEFAULT = re.compile(r"^\$\{[A-Z_]+:-(.*)\}$")  # `${NAME:-default}` → default


def default_port(service: str) -> int:
    port: int = Settings.model_fields[PROCESS_PORTS[service]].default
    return port


def dockerfile_env() -> dict[str, str]:
    """The `ENV NAME=value …` pairs of the Dockerfile, continuation lines included."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("ENV ")]
    return dict(pair.split("=", 1) for line in lines for pair in line.split())


def pipeline_env(service: str) -> dict[str, str]:
    env: dict[str, Any] = SERVICES[service].get("environment", {})
    return {name: str(value) for name, value in env.items() if name.startswith("PIPELINE_")}


def host_ports(service: dict[str, Any]) -> list[str]:
    return [str(port).split(":")[0] for port in service.get("ports", []) if ":" in str(port)]


def test_every_service_is_there() -> None:
    assert set(SERVICES) == {*LONG_RUNNING, "topics"}


def test_images() -> None:
    assert SERVICES["kafka"]["image"] == "apache/kafka:3.9.1"
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:v")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:11.")
    for name in PIPELINE_SERVICES:
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["image"] == "social-events-pipeline:local"


def test_each_pipeline_service_runs_its_process() -> None:
    assert SERVICES["topics"]["command"] == ["topics", "apply"]
    assert SERVICES["topics"]["restart"] == "no"
    for name in PROCESS_PORTS:
        assert SERVICES[name]["command"] == [name]


@pytest.mark.parametrize("name", PIPELINE_SERVICES)
def test_pipeline_env_names_are_settings_and_values_parse(name: str) -> None:
    env = pipeline_env(name)
    fields = {name.removeprefix("PIPELINE_").lower() for name in env}
    assert fields <= set(Settings.model_fields), fields - set(Settings.model_fields)
    values = {k: m.group(1) if (m := _DEFAULT.match(v)) else v for k, v in env.items()}
    load_settings(**{k.removeprefix("PIPELINE_").lower(): v for k, v in values.items()})


def test_dockerfile_env_names_are_settings() -> None:
    env = dockerfile_env()
    assert {"PIPELINE_BIND_HOST", "PIPELINE_DATA_DIR", "PIPELINE_TOPICS_DIR"} <= set(env)
    for name in (name for name in env if name.startswith("PIPELINE_")):
        assert name.removeprefix("PIPELINE_").lower() in Settings.model_fields, name
    assert "\nUSER pipeline\n" in (REPO_ROOT / "Dockerfile").read_text()


def test_the_worker_scales() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # any published host port would clash between replicas
    assert "volumes" not in worker  # replicas must not share one rocksdb directory
    assert worker["expose"] == [str(default_port("worker"))]


def test_published_ports_do_not_clash() -> None:
    published = [port for service in SERVICES.values() for port in host_ports(service)]
    assert sorted(published) == ["3000", "8080", "9090"]
    assert SERVICES["ingress"]["ports"] == [f"{default_port('ingress')}:{default_port('ingress')}"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(name: str) -> None:
    test = SERVICES[name]["healthcheck"]["test"]
    assert test[0] == "CMD"
    if name in PROCESS_PORTS:
        assert f"http://127.0.0.1:{default_port(name)}/readyz" in test[-1]


def test_the_worker_is_checked_for_stalls_and_restarted_when_it_exits() -> None:
    worker = SERVICES["worker"]
    assert "http://127.0.0.1:6066/healthz" in worker["healthcheck"]["test"][-1]
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] == "unless-stopped"


def test_start_order() -> None:
    def condition(service: str, on: str) -> str:
        return str(SERVICES[service]["depends_on"][on]["condition"])

    assert condition("topics", "kafka") == "service_healthy"
    for name in PROCESS_PORTS:
        assert condition(name, "topics") == "service_completed_successfully"
    assert condition("grafana", "prometheus") == "service_healthy"


def test_volumes_mount_the_repo_config() -> None:
    def mounts(service: str) -> dict[str, str]:
        pairs = (volume.split(":")[:2] for volume in SERVICES[service]["volumes"])
        return {target: source for source, target in pairs}

    assert mounts("prometheus")["/etc/prometheus"] == "./deploy/prometheus"
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load(
        (REPO_ROOT / "grafana/provisioning/dashboards/dashboards.yml").read_text()
    )
    assert grafana[provider["providers"][0]["options"]["path"]] == "./grafana/dashboards"
    sources = {v.split(":")[0] for service in SERVICES.values() for v in service.get("volumes", [])}
    assert {s for s in sources if not s.startswith(".")} == set(COMPOSE["volumes"])
    for bound in (s for s in sources if s.startswith(".")):
        assert (REPO_ROOT / bound).is_dir(), bound


def test_prometheus_scrapes_every_process_on_its_port() -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in PROCESS_PORTS:
        [discovery] = jobs[name]["dns_sd_configs"]
        assert (discovery["names"], discovery["port"]) == ([name], default_port(name))
    assert config["rule_files"] == ["alerts.yml"]
    assert (REPO_ROOT / "deploy/prometheus/alerts.yml").is_file()


def test_grafana_datasource_is_the_compose_prometheus() -> None:
    path = REPO_ROOT / "grafana/provisioning/datasources/prometheus.yml"
    [source] = yaml.safe_load(path.read_text())["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in SERVICES["prometheus"]["ports"]

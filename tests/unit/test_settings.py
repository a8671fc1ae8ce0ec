from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import load_settings, parse_duration


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIPELINE_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert (settings.ingress_port, settings.worker_web_port, settings.poller_port) == (
        8080,
        6066,
        8081,
    )
    assert settings.retry_schedule == (5.0, 25.0, 125.0)
    assert settings.delivery_timeout == 5.0
    assert settings.dedup_window == 7 * 86400
    assert settings.allow_private_destinations is False
    assert settings.admin_token is None


def test_values_come_from_pipeline_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_RETRY_SCHEDULE", "1, 2.5 ,3m")
    monkeypatch.setenv("PIPELINE_DEDUP_WINDOW", "12h")
    monkeypatch.setenv("PIPELINE_ALLOW_PRIVATE_DESTINATIONS", "true")
    monkeypatch.setenv("PIPELINE_ADMIN_TOKEN", "s3cret")
    settings = load_settings()
    assert settings.retry_schedule == (1.0, 2.5, 180.0)
    assert settings.dedup_window == 12 * 3600
    assert settings.allow_private_destinations is True
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.ingress_port = 1  # type: ignore[misc]  # the assignment is the point of the test


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PIPELINE_INGRESS_PORT", "eighty"),
        ("PIPELINE_INGRESS_PORT", "70000"),
        ("PIPELINE_RETRY_SCHEDULE", "5,-1"),
        ("PIPELINE_RETRY_SCHEDULE", "soon"),
        ("PIPELINE_DELIVERY_TIMEOUT", "0"),
        ("PIPELINE_ALLOW_PRIVATE_DESTINATIONS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_settings()


def test_the_command_exits_with_one_line_naming_the_variable() -> None:
    env = {**os.environ, "PIPELINE_WORKER_WEB_PORT": "web"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "topics", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: PIPELINE_WORKER_WEB_PORT: ")


def test_durations() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("7d") == 604800
    assert parse_duration("2ms") == pytest.approx(0.002)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("7 weeks")


def test_the_producer_linger_reaches_the_worker_app(tmp_path: Path) -> None:
    from pipeline.runtime.app import create_app  # noqa: PLC0415 - faust is slow to import

    settings = load_settings(data_dir=tmp_path, producer_linger="5ms")
    assert create_app(settings).conf.producer_linger == pytest.approx(0.005)

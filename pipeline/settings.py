"""One typed, frozen settings object, built from `PIPELINE_*` environment variables.

Components receive a `Settings` as an argument; nothing else in the package reads the environment.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|[smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_BYTES = 32  # AES-256 keys in PIPELINE_SECRET_KEYS
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

Port = Annotated[int, Field(ge=1, le=65535)]


def parse_duration(value: object) -> float:
    """`"90"`, `"90s"`, `"15m"`, `"12h"`, `"7d"`, `"2ms"` → seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected seconds or a duration like 90s, 15m, 12h, 7d; got {value!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class Settings(BaseSettings):
    """Every knob of every process. Defaults run the whole pipeline on one laptop."""

    model_config = SettingsConfigDict(env_prefix="PIPELINE_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    app_id: str = Field(default="social-events", pattern=r"^[A-Za-z0-9._-]+$")

    ingress_port: Port = 8080
    worker_web_port: Port = 6066
    poller_port: Port = 8081
    demo_simulator_port: Port = 8090
    demo_receiver_port: Port = 9000
    bind_host: str = "127.0.0.1"
    public_url: str | None = None
    ingress_ack_timeout: Annotated[float, NoDecode] = Field(default=5.0, gt=0)
    ingress_processes: int = Field(default=1, ge=1, le=64)  # on one port (SO_REUSEPORT)

    admin_token: SecretStr | None = None
    secret_keys: SecretStr | None = None  # `id:base64key,…`, see pipeline/config/keyring.py
    data_dir: Path = REPO_ROOT / "var"
    topics_dir: Path = REPO_ROOT / "topics"

    retry_schedule: Annotated[tuple[float, ...], NoDecode] = (5.0, 25.0, 125.0)
    delivery_timeout: Annotated[float, NoDecode] = Field(default=5.0, gt=0)
    dedup_window: Annotated[float, NoDecode] = Field(default=7 * 86400.0, gt=0)
    # RocksDB block cache of each partition of the dedup and delivered tables: their memory,
    # whatever the number of keys the window holds (pipeline/expiring_table.py).
    state_cache_mb: int = Field(default=8, ge=1, le=4096)
    allow_private_destinations: bool = False
    delivery_concurrency: int = Field(default=32, ge=1, le=1024)
    delivery_concurrency_per_subscription: int = Field(default=8, ge=1, le=1024)
    stall_timeout: Annotated[float, NoDecode] = Field(default=60.0, gt=0)
    # How long the worker's producer waits for more records before it sends a request: fewer,
    # fuller produce requests for this much latency per hop (BENCHMARKS.md, "What changed in
    # the worker").
    producer_linger: Annotated[float, NoDecode] = Field(default=0.002, ge=0, le=1)
    shutdown_timeout: Annotated[float, NoDecode] = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_file: Path | None = None

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise ValueError("expected a comma-separated list of delays, e.g. 5,25,125")
            return tuple(parse_duration(part) for part in parts)
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _positive_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every retry delay must be positive")
        return value

    @field_validator("admin_token")
    @classmethod
    def _some_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _split_tokens(value.get_secret_value()):
            raise ValueError("expected one or more comma-separated tokens")
        return value

    @field_validator("secret_keys")
    @classmethod
    def _a_key_ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                secret_key_entries(value.get_secret_value(), variable="entry")
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("entry: ")) from None
        return value

    @field_validator(
        "delivery_timeout",
        "dedup_window",
        "ingress_ack_timeout",
        "stall_timeout",
        "producer_linger",
        "shutdown_timeout",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def admin_tokens(self) -> tuple[str, ...]:
        """The accepted admin tokens: several during a rotation, none when the admin API is off."""
        return _split_tokens(self.admin_token.get_secret_value()) if self.admin_token else ()

    def topic(self, name: str) -> str:
        """The cluster-side name of a manifest topic (a prefix isolates tests and tenants)."""
        return f"{self.topic_prefix}{name}"


def _split_tokens(value: str) -> tuple[str, ...]:
    return tuple(token.strip() for token in value.split(",") if token.strip())


def secret_key_entries(
    text: str, variable: str = "PIPELINE_SECRET_KEYS"
) -> tuple[tuple[str, bytes], ...]:
    """`id:base64key,…` → (key id, 32-byte key) pairs; a bad entry raises `ConfigError` unshown.

    The variable's syntax lives here so that the settings check it without importing
    `pipeline.config.keyring`, which builds the key ring from these pairs and imports this module.
    """
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate((part.strip() for part in text.split(",")), start=1):
        if not entry:
            continue
        key_id, colon, encoded = entry.partition(":")
        if not colon or not _KEY_ID.match(key_id):
            raise ConfigError(f"{variable}: entry {number} is not id:base64key")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_")
        except (binascii.Error, ValueError):
            raise ConfigError(f"{variable}: key {key_id!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"{variable}: key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")
        if key_id in dict(keys):
            raise ConfigError(f"{variable}: key id {key_id!r} appears twice")
        keys.append((key_id, key))
    if not keys:
        raise ConfigError(f"{variable}: expected id:base64key,…")
    return tuple(keys)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; a bad value raises `ConfigError` naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        variable = f"PIPELINE_{field.upper()}"
        given = first.get("input")
        shown = "" if field in ("admin_token", "secret_keys") else f" (got {given!r})"
        raise ConfigError(f"{variable}: {first['msg']}{shown}") from exc

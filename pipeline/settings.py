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


def _shown(default: str) -> dict[str, Any]:
    return {"shown": default}


class Settings(BaseSettings):
    """Every knob of every process. Defaults run the whole pipeline on one laptop."""

    model_config = SettingsConfigDict(env_prefix="PIPELINE_", frozen=True, extra="ignore")

    # Each field's description is the settings reference (`pipeline.docs_gen`); `shown` is the
    # default as the reference states it (Markdown), where the value itself would mislead.
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated"
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="prefix of every topic name (isolates tests or tenants on one cluster)",
    )
    app_id: str = Field(
        default="social-events",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="faust app id: consumer group and changelog topic names",
    )

    ingress_port: Port = Field(default=8080, description="ingress HTTP port")
    worker_web_port: Port = Field(default=6066, description="worker web port")
    poller_port: Port = Field(default=8081, description="poller HTTP port")
    demo_simulator_port: Port = Field(default=8090, description="the demo simulator's port")
    demo_receiver_port: Port = Field(default=9000, description="the demo receiver's port")
    bind_host: str = Field(
        default="127.0.0.1",
        description="address the HTTP servers listen on (`0.0.0.0` in containers)",
    )
    public_url: str | None = Field(
        default=None,
        description="base of the `webhook_url` the instance API returns",
        json_schema_extra=_shown("`http://127.0.0.1:<ingress port>`"),
    )
    ingress_ack_timeout: Annotated[float, NoDecode] = Field(
        default=5.0,
        gt=0,
        description="how long the ingress waits for Kafka's ack before answering 503",
    )
    ingress_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="ingress processes sharing the port (SO_REUSEPORT), each following the "
        "configuration",
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description="bearer token of the admin API; several, comma-separated, are all accepted "
        "(add the new one, move clients over, remove the old one: no downtime)",
        json_schema_extra=_shown("none (admin API off)"),
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="key ring sealing the secrets on Kafka: `id:base64key,…`, 32-byte AES-256 "
        "keys; the first seals, all open (see pipeline/config/keyring.py and the operations "
        "guide)",
        json_schema_extra=_shown(
            "none: a key generated once into `PIPELINE_DATA_DIR/secret-keys`, with a warning "
            "(not for production)"
        ),
    )
    data_dir: Path = Field(
        default=REPO_ROOT / "var",
        description="local broker storage, the workers' rocksdb state, the processes' log files "
        "under `pipeline run`, and the generated `secret-keys` when `PIPELINE_SECRET_KEYS` is "
        "not set",
        json_schema_extra=_shown("`var/`"),
    )
    topics_dir: Path = Field(
        default=REPO_ROOT / "topics",
        description="where the manifest and schemas are read from",
        json_schema_extra=_shown("`topics/`"),
    )

    retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(5.0, 25.0, 125.0),
        description="delivery retry delays (seconds, or `30s`, `5m`, `1h`); one retry topic per "
        "delay",
        json_schema_extra=_shown("`5,25,125`"),
    )
    delivery_timeout: Annotated[float, NoDecode] = Field(
        default=5.0, gt=0, description="seconds a subscriber has to answer"
    )
    dedup_window: Annotated[float, NoDecode] = Field(
        default=7 * 86400.0,
        gt=0,
        description="how long an event id (and a delivered webhook-id) is remembered: at least "
        "this long, at most twice",
        json_schema_extra=_shown("`7d`"),
    )
    state_cache_mb: int = Field(
        default=8,
        ge=1,
        le=4096,
        description="RocksDB block cache of each partition of the dedup and delivered tables: "
        "with their small memtables, the tables' memory, whatever the number of keys",
    )
    allow_private_destinations: bool = Field(
        default=False,
        description="allow callbacks to loopback/private/link-local/metadata addresses",
    )
    delivery_concurrency: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="delivery requests in flight per retry tier and worker (and the tier's "
        "readers of its topic)",
    )
    delivery_concurrency_per_subscription: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="requests in flight to one subscription, per worker; more are deferred to "
        "tier 1 (an ordered subscription's wait)",
    )
    delivery_held_limit: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="tasks of ordered subscriptions held in their lanes per retry tier and "
        "worker; past it the tier reads no further task until a lane moves",
    )
    stall_timeout: Annotated[float, NoDecode] = Field(
        default=60.0,
        gt=0,
        description="seconds an owned partition may have records to read and no commit "
        "progress (with its next message in no agent's hands) before the worker fails "
        "`/healthz` and exits with code 70 to be restarted",
    )
    producer_linger: Annotated[float, NoDecode] = Field(
        default=0.002,
        ge=0,
        le=1,
        description="how long the worker's producer waits to fill a request (seconds, or "
        "`2ms`): fewer, fuller produce requests, at this much latency per hop",
        json_schema_extra=_shown("`2ms`"),
    )
    shutdown_timeout: Annotated[float, NoDecode] = Field(
        default=30.0,
        gt=0,
        description="seconds the worker's shutdown (SIGTERM, Ctrl-C) may take; then it logs why "
        "and exits with code 1 (with Kafka gone, faust's stop never ends)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest webhook body accepted (413 above)"
    )

    log_level: str = Field(
        default="INFO",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
        description="`DEBUG`, `INFO`, `WARNING` or `ERROR`",
    )
    log_file: Path | None = Field(
        default=None,
        description="also log to this file, and show only warnings and errors on the console "
        "(every line with `DEBUG`); `pipeline run` gives each process "
        "`PIPELINE_DATA_DIR/logs/<process>.log`",
    )

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

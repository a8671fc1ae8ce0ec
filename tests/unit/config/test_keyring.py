"""The key ring: AES-256-GCM sealing, several keys, the generated key file, plain legacy values."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from pipeline.config.keyring import (
    KEY_FILE,
    KeyRing,
    SealedValueError,
    load_key_ring,
    new_key_entry,
    parse_key_ring,
)
from pipeline.errors import ConfigError
from pipeline.settings import load_settings

OLD = new_key_entry("old")
NEW = new_key_entry("new")


def test_sealed_values_open_and_hide_the_plaintext() -> None:
    ring = parse_key_ring(OLD)
    sealed = ring.seal("whsec_top-secret", "config.subscriptions/s1/secret")
    assert sealed.startswith("enc:v1:old:")
    assert "top-secret" not in sealed
    assert ring.seal("whsec_top-secret", "config.subscriptions/s1/secret") != sealed  # nonce
    assert ring.open(sealed, "config.subscriptions/s1/secret") == "whsec_top-secret"


def test_the_first_key_seals_and_every_key_opens() -> None:
    before = parse_key_ring(OLD).seal("s", "c")
    ring = parse_key_ring(f"{NEW}, {OLD}")
    assert ring.primary_id == "new"
    assert ring.open(before, "c") == "s"
    assert ring.seal("s", "c").startswith("enc:v1:new:")
    assert ring.needs_resealing(before)
    assert ring.needs_resealing("plain, from before sealing")
    assert not ring.needs_resealing(ring.seal("s", "c"))


def test_a_value_moved_damaged_or_under_an_unknown_key_does_not_open() -> None:
    ring = parse_key_ring(OLD)
    sealed = ring.seal("s", "config.instances/a/signing_secret")
    with pytest.raises(SealedValueError):
        ring.open(sealed, "config.instances/b/signing_secret")
    with pytest.raises(SealedValueError):
        ring.open(sealed[:-4] + "AAAA", "config.instances/a/signing_secret")
    with pytest.raises(SealedValueError, match="'old'"):
        parse_key_ring(NEW).open(sealed, "config.instances/a/signing_secret")


def test_a_plain_value_written_before_sealing_reads_as_it_is() -> None:
    assert parse_key_ring(OLD).open("legacy-secret", "c") == "legacy-secret"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nokey",
        "k1:not base64!",
        "k1:" + base64.b64encode(b"short").decode(),
        f"{OLD},{OLD}",
        "bad id:" + base64.b64encode(bytes(32)).decode(),
    ],
    ids=["empty", "no-key", "not-base64", "short-key", "repeated-id", "bad-id"],  # no key in ids
)
def test_a_bad_ring_names_the_variable_and_never_the_key(text: str) -> None:
    with pytest.raises(ConfigError, match="PIPELINE_SECRET_KEYS") as raised:
        parse_key_ring(text)
    key = text.partition(":")[2]
    assert not key or key not in str(raised.value)


def test_without_a_configured_ring_one_key_is_generated_once_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.config.keyring")
    first = load_key_ring(None, tmp_path / "data")
    again = load_key_ring(None, tmp_path / "data")
    assert first == again
    assert first.primary_id.startswith("local-")
    assert load_key_ring(None, tmp_path / "elsewhere").primary_id != first.primary_id
    key_file = tmp_path / "data" / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "not for production" in caplog.text
    assert base64.b64encode(first.keys[0][1]).decode() not in caplog.text
    assert list((tmp_path / "data").iterdir()) == [key_file]  # no draft left behind
    # once per key file and process, however many parts of the process load the ring
    warned = [r for r in caplog.records if "not for production" in r.getMessage()]
    assert [str(tmp_path / "data") in r.getMessage() for r in warned] == [True, False]


def test_a_configured_ring_wins_over_the_file(tmp_path: Path) -> None:
    assert load_key_ring(NEW, tmp_path).primary_id == "new"
    assert not (tmp_path / KEY_FILE).exists()


def test_repr_shows_ids_only() -> None:
    ring = parse_key_ring(OLD)
    assert repr(ring) == "KeyRing(ids=['old'])"
    assert KeyRing.ephemeral().primary_id == "ephemeral"


def test_a_bad_ring_in_the_environment_stops_at_settings_without_showing_it() -> None:
    short = "k1:" + base64.b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match="PIPELINE_SECRET_KEYS") as raised:
        load_settings(secret_keys=short)
    assert short.partition(":")[2] not in str(raised.value)
    assert load_settings(secret_keys=OLD).secret_keys is not None

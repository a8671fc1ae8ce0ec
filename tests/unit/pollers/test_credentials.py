"""`pollers.credentials`: the newest rotated refresh token wins, until new credentials are set."""

from __future__ import annotations

import logging

import msgspec
import pytest

from pipeline.config.keyring import SealedValueError, new_key_entry, parse_key_ring
from pipeline.config.view import CompactedView, Unreadable
from pipeline.pollers.credentials import CredentialStore, credentials_decoder, grant_of
from pipeline.pollers.hootsuite_api import HootsuiteCredentials
from tests.unit.pollers.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE_ID,
    TOPICS,
    FakeWriter,
    assert_valid,
)

RING = parse_key_ring(new_key_entry("test"))

CONFIGURED = HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET, "configured-refresh-token")


@pytest.fixture
def store(writer: FakeWriter) -> CredentialStore:
    view = CompactedView("127.0.0.1:1", TOPICS.pollers_credentials, credentials_decoder(RING))
    return CredentialStore(writer, TOPICS.pollers_credentials, view, RING)


async def test_a_saved_rotation_is_written_and_then_used(
    store: CredentialStore, writer: FakeWriter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await store.save(INSTANCE_ID, CONFIGURED, "rotated-1")
    await store.save(INSTANCE_ID, CONFIGURED, "rotated-2")

    written = writer.on(TOPICS.pollers_credentials)
    context = f"pollers.credentials/{INSTANCE_ID}/refresh_token"
    assert [(r.key, RING.open(r.value["refresh_token"], context)) for r in written] == [
        (INSTANCE_ID, "rotated-1"),
        (INSTANCE_ID, "rotated-2"),
    ]
    for record in written:
        assert_valid("poller-credentials.json", record.value)
        assert "configured-refresh-token" not in str(record.value)
        assert "rotated-" not in str(record.value)  # sealed on Kafka
    assert store.current(INSTANCE_ID, CONFIGURED).refresh_token == "rotated-2"
    assert "rotated-" not in caplog.text


async def test_credentials_configured_after_the_rotation_win(store: CredentialStore) -> None:
    await store.save(INSTANCE_ID, CONFIGURED, "rotated-1")
    patched = HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET, "patched-refresh-token")

    assert store.current(INSTANCE_ID, patched) == patched
    assert grant_of(patched) != grant_of(CONFIGURED)


async def test_client_credentials_instances_and_unknown_ones_keep_their_configuration(
    store: CredentialStore,
) -> None:
    await store.save(INSTANCE_ID, CONFIGURED, "rotated-1")
    plain = HootsuiteCredentials(CLIENT_ID, CLIENT_SECRET)

    assert store.current(INSTANCE_ID, plain) == plain
    assert store.current("inst_other", CONFIGURED) == CONFIGURED


def test_a_record_without_a_token_is_unreadable() -> None:
    with pytest.raises(msgspec.ValidationError, match="missing required field `grant`"):
        credentials_decoder(RING)(b'{"instance_id": "x"}')


def test_a_token_sealed_for_another_instance_does_not_open() -> None:
    sealed = RING.seal("rotated-1", "pollers.credentials/other/refresh_token")
    raw = msgspec.json.encode(
        {"instance_id": "x", "grant": "0" * 32, "refresh_token": sealed, "rotated_at": "t"}
    )
    with pytest.raises(SealedValueError):
        credentials_decoder(RING)(raw)


def test_the_view_holds_and_logs_an_unreadable_record(
    store: CredentialStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.view._consume(b"x", b'{"instance_id": "x"}', 3)

    assert isinstance(store.view.lookup("x"), Unreadable)  # not taken for "no rotation"
    assert f"cannot read {TOPICS.pollers_credentials}/x (offset 3)" in caplog.text

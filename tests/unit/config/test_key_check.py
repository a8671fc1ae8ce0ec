"""pipeline.config.key_check: a foreign seal stops a worker once; other unreadables do not."""

from __future__ import annotations

import signal

import pytest

from pipeline.config import key_check
from pipeline.config.key_check import EXIT_FOREIGN_KEY, StopOnForeignKey, foreign_key_line
from pipeline.config.keyring import KeyRing
from pipeline.config.view import Unreadable

RING = KeyRing((("k2", b"2" * 32), ("k1", b"1" * 32)))
FOREIGN = Unreadable("config.subscriptions", "sub_1", 7, "sealed with key 'k9'", "k9")
MISSHAPEN = Unreadable("config.subscriptions", "sub_2", 8, "Expected `bool`", None)


def test_the_line_names_the_record_the_key_this_ring_and_the_variable() -> None:
    line = foreign_key_line(FOREIGN, RING)
    assert line.startswith("config.subscriptions/sub_1 is sealed with key 'k9'")
    assert "ids ['k2', 'k1']" in line
    assert "set PIPELINE_SECRET_KEYS" in line
    assert "\n" not in line
    assert "MjIy" not in line  # no key material (base64 of b"222")


def test_a_foreign_seal_stops_the_process_once_with_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signals: list[int] = []
    monkeypatch.setattr(key_check.os, "kill", lambda pid, sig: signals.append(sig))
    stop = StopOnForeignKey(RING)
    stop(MISSHAPEN)  # a shape it cannot decode is no key ring's fault: the readers wait
    assert (signals, stop.exit_code(0)) == ([], 0)
    stop(FOREIGN)
    stop(FOREIGN)
    assert signals == [signal.SIGTERM]
    assert stop.exit_code(0) == EXIT_FOREIGN_KEY

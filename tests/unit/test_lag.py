"""pipeline.lag.LagMonitor.measure: a failed measurement is logged and skipped, never raised (it
runs in a faust timer, whose exception would crash the worker)."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError

from pipeline.lag import LagMonitor


@pytest.mark.parametrize(
    "failure",
    [
        KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9"),
        RuntimeError("unable to perform operation on <TCPTransport closed=True>"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
async def test_a_failed_measurement_is_logged_not_raised(
    failure: Exception, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = LagMonitor("127.0.0.1:9", "group")

    async def clients() -> None:
        raise failure

    monkeypatch.setattr(monitor, "_clients", clients)
    assert await monitor.measure() == {}
    assert "measuring consumer lag failed" in caplog.text

"""pipeline.agents.deliver: a 2xx is marked delivered while its log record is being written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec

from pipeline.agents.deliver import _conclude
from pipeline.config.subscriptions import Subscription
from pipeline.delivery.conclusion import DeliveryTopics
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.tasks import attempt_record, new_task
from pipeline.settings import load_settings


class HeldWriter:
    """A producer whose acknowledgements come only when the test releases them."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.acks: list[asyncio.Future[None]] = []
        self.sending = asyncio.Event()

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append(topic)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        self.sending.set()
        return ack


class Marks(list[str]):
    """The delivered table as `_conclude` uses it: the keys it `add`s."""

    def add(self, key: str) -> None:
        self.append(key)

    async def changelog_sent(self) -> None:
        return None


def delivery(writer: HeldWriter, delivered: Marks) -> Any:
    names = DeliveryTopics(
        attempts="deliveries.attempts", tiers=["deliveries"], dead="deliveries.dead"
    )
    return SimpleNamespace(
        settings=load_settings(),
        names=names,
        tables=SimpleNamespace(delivered=delivered),
        writer=writer,
    )


async def test_a_2xx_is_marked_before_its_log_record_is_acked() -> None:
    """A worker killed between the log record's ack and the mark would send the task again
    after its restart (its offset is committed only once `_conclude` returns)."""
    writer, delivered = HeldWriter(), Marks()
    subscription = Subscription(
        id="sub_1",
        name="s",
        url="https://example.com/",
        event_types=["*"],
        enabled=True,
        secret="x",
        created="",
        modified="",
    )
    task = msgspec.structs.replace(
        new_task("sub_1", {"id": "e1", "source": "/i", "provider": "oktopost"}, reason="live"),
        webhook_id="msg_1",
    )
    outcome = Outcome(OutcomeKind.DELIVERED, 200, None, None)
    record = attempt_record(task, outcome, datetime.now(UTC), 0.01)
    concluding = asyncio.ensure_future(
        _conclude(delivery(writer, delivered), task, subscription, outcome, record, in_place=False)
    )
    await asyncio.wait_for(writer.sending.wait(), timeout=1)
    await asyncio.sleep(0)  # `_conclude` runs on to its wait for the acks
    assert writer.sent == ["deliveries.attempts"]
    assert delivered == ["msg_1"]  # the log record not acked yet
    assert not concluding.done()  # the task's offset stays uncommitted until it is
    writer.acks[0].set_result(None)
    await asyncio.wait_for(concluding, timeout=1)

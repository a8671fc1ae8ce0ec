from __future__ import annotations

import pytest

from pipeline.config.subscriptions import create_subscription
from pipeline.delivery.attempt import attempt
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.sender import Sender
from pipeline.delivery.tasks import dead_letter, new_task, retry_task, seconds_until_due
from pipeline.settings import load_settings

EVENT = {"id": "e1", "source": "/instances/i1", "type": "post.sent", "receivedat": "x"}


def test_a_task_keeps_its_webhook_id_through_retries_and_death() -> None:
    task = new_task("sub1", EVENT, reason="live")
    failed = Outcome(OutcomeKind.RETRY, 503, 10.0, None)
    retried = retry_task(task, 5.0, failed)
    dead = dead_letter(retried, "exhausted", failed)
    assert task.webhook_id == retried.webhook_id == dead.webhook_id
    assert (task.attempt, retried.attempt, dead.attempt) == (1, 2, 2)
    assert 4.0 < seconds_until_due(retried) <= 5.0
    assert seconds_until_due(task) == 0.0
    assert (dead.dead_reason, dead.last_error) == ("exhausted", "HTTP 503")


def test_webhook_ids_differ_per_subscription_and_event() -> None:
    one = new_task("sub1", EVENT, reason="live").webhook_id
    assert new_task("sub2", EVENT, reason="live").webhook_id != one
    assert new_task("sub1", {**EVENT, "id": "e2"}, reason="live").webhook_id != one
    assert new_task("sub1", EVENT, reason="replay").webhook_id == one


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest"])
async def test_private_destinations_are_refused_and_logged(url: str) -> None:
    subscription = create_subscription({"name": "n", "url": url})
    task = new_task(subscription.id, EVENT, reason="live")
    settings = load_settings(allow_private_destinations=False)
    async with Sender() as sender:
        outcome, record = await attempt(task, subscription, sender, settings)
    assert outcome.kind is OutcomeKind.REFUSED
    assert record.outcome == "refused"
    assert record.error is not None
    assert "destination refused" in record.error
    assert record.response_code is None

"""deliver agent → subscriber: one signed POST of a task's CloudEvent, classified.

The destination is checked on every attempt (DNS may change) — its syntax here, its addresses by
the sender's resolver where it connects — the body is the CloudEvent exactly as on
`events.normalized` (or the subscription's other `format`), and the Standard Webhooks headers are
signed by every active secret.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pipeline.config.subscriptions import Subscription
from pipeline.delivery.destinations import check_literal_destination
from pipeline.delivery.errors import DestinationRefusedError
from pipeline.delivery.formats import render
from pipeline.delivery.outcome import Outcome, OutcomeKind, classify
from pipeline.delivery.sender import Sender
from pipeline.delivery.signing import delivery_headers
from pipeline.delivery.tasks import DeliveryAttempt, DeliveryTask, attempt_record
from pipeline.settings import Settings


async def attempt(
    task: DeliveryTask, subscription: Subscription, sender: Sender, settings: Settings
) -> tuple[Outcome, DeliveryAttempt]:
    """POST the task's event to the subscription; the outcome and the attempt-log record."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        check_literal_destination(
            subscription.url, allow_private=settings.allow_private_destinations
        )
        body, format_headers = render(subscription, task.event)
        headers = delivery_headers(
            subscription.signing_secrets(started),
            task.webhook_id,
            int(started.timestamp()),
            body,
        )
        headers.update(format_headers)
        status, response_headers, error, duration = await sender.post(
            subscription.url, body, headers, timeout=settings.delivery_timeout
        )
    except DestinationRefusedError as exc:
        refused = Outcome(OutcomeKind.REFUSED, None, None, f"destination refused: {exc}")
        return refused, attempt_record(task, refused, started, time.perf_counter() - clock)
    outcome = classify(
        status, response_headers, error, retry_after_cap=max(settings.retry_schedule)
    )
    return outcome, attempt_record(task, outcome, started, duration)

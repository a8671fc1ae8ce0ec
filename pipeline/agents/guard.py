"""One record's handling, guarded: an unexpected error dead-letters the record, the agent goes on.

Defence in depth behind total parse and normalize functions. faust kills an agent whose body
raises, restarts it seconds later, and does not retry the record that raised (its stream acks it
on the way out): one bad record would stop every instance's processing for that time and be lost.
Here the exception becomes a dead letter on `events.invalid` (reason `internal_error`, the
exception's type and message, the raw record), counted in `pipeline_agent_errors_total`, and the
next record follows at once.

Errors of the pipeline's own infrastructure are not input's fault and are never swallowed: Kafka
errors and retriable pipeline errors propagate, so the agent stops and the record is read again.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from pipeline import metrics
from pipeline.errors import PipelineError
from pipeline.events.invalid import invalid_record

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 1000  # characters of an exception's text kept in the dead letter


def is_infrastructure(exc: BaseException) -> bool:
    """Whether `exc` says the pipeline's own machinery failed (retry), not this record."""
    if isinstance(exc, KafkaError | ProducerSendError | ConnectionError):
        return True
    return isinstance(exc, PipelineError) and exc.retriable


def internal_error(stage: str, exc: Exception, raw: bytes | None) -> dict[str, Any]:
    record = invalid_record(
        stage=stage,
        reason="internal_error",
        message=f"{type(exc).__name__}: {exc}"[:MESSAGE_LIMIT],
        provider=None,
        instance_id=None,
        record={"base64": base64.b64encode(raw or b"").decode()},
    )
    record["exception"] = {"type": type(exc).__name__, "message": str(exc)[:MESSAGE_LIMIT]}
    return record


async def guarded(
    stage: str,
    raw: bytes | None,
    handle: Callable[[], Awaitable[None]],
    dead_letter: Callable[[bytes], Awaitable[None]],
) -> None:
    """Run `handle()`; if it fails for any reason but infrastructure, write the dead letter
    (awaiting its ack, so faust commits the record only once the dead letter is on Kafka)."""
    try:
        await handle()
    except Exception as exc:
        if is_infrastructure(exc):
            raise
        log.exception("%s: a record failed unexpectedly; dead-lettered to events.invalid", stage)
        await dead_letter(orjson.dumps(internal_error(stage, exc, raw)))
        metrics.EVENTS_INVALID.labels(stage, "internal_error").inc()
        metrics.AGENT_ERRORS.labels(stage).inc()

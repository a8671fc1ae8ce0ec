"""One record's handling, guarded: an unexpected error dead-letters the record, the agent goes on.

Defence in depth behind total parse and normalize functions. faust kills an agent whose body
raises, restarts it seconds later, and does not retry the record that raised (its stream acks it
on the way out): one bad record would stop every instance's processing for that time and be lost.
Here the exception becomes a dead letter on `events.invalid` (reason `internal_error`, the
exception's type and message, the raw record), counted in `pipeline_agent_errors_total`, and the
next record follows at once.

Errors of the pipeline's own infrastructure (Kafka unreachable, a write not acknowledged in time)
are not the record's fault and are never dead-lettered: the same record is handled again, with a
growing pause, until it goes through. The agent holds the record meanwhile, so faust commits
nothing past it. Letting such an error reach faust instead would crash the agent: faust restarts
it, but the record it was handling is acked (its offset committed) or dropped on the way, and its
outputs are lost.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from pipeline import metrics
from pipeline.errors import PipelineError
from pipeline.events.invalid import InternalException, InvalidRecord, encode_invalid, invalid_record

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 1000  # characters of an exception's text kept in the dead letter
RETRY_FIRST_SECONDS = 0.5  # pauses between tries of a record that infrastructure errors stop:
RETRY_MAX_SECONDS = 10.0  # 0.5, 1, 2 … seconds, at most this long


def is_infrastructure(exc: BaseException) -> bool:
    """Whether `exc` says the pipeline's own machinery failed (retry), not this record."""
    if isinstance(exc, KafkaError | ProducerSendError | ConnectionError):
        return True
    return isinstance(exc, PipelineError) and exc.retriable


def internal_error(stage: str, exc: Exception, raw: bytes | None) -> InvalidRecord:
    return invalid_record(
        stage=stage,
        reason="internal_error",
        message=f"{type(exc).__name__}: {exc}"[:MESSAGE_LIMIT],
        provider=None,
        instance_id=None,
        record={"base64": base64.b64encode(raw or b"").decode()},
        exception=InternalException(type=type(exc).__name__, message=str(exc)[:MESSAGE_LIMIT]),
    )


async def guarded(
    stage: str,
    raw: bytes | None,
    handle: Callable[[], Awaitable[None]],
    dead_letter: Callable[[bytes], Awaitable[None]],
) -> None:
    """Run `handle()` until it succeeds or fails for the record's own sake; then the dead letter
    is written (and acked, so faust commits the record only once the dead letter is on Kafka)."""
    try:
        await retrying(stage, handle)
    except Exception as exc:
        log.exception("%s: a record failed unexpectedly; dead-lettered", stage)
        letter = encode_invalid(internal_error(stage, exc, raw))
        metrics.EVENTS_INVALID.labels(stage, "internal_error").inc()
        metrics.AGENT_ERRORS.labels(stage).inc()
        await retrying(stage, partial(dead_letter, letter))


async def retrying(stage: str, write: Callable[[], Awaitable[None]]) -> None:
    """Run `write()` until no infrastructure error stops it; any other error propagates."""
    tries = 0
    while True:
        try:
            await write()
        except Exception as exc:
            if not is_infrastructure(exc):
                raise
            tries += 1
            await _pause(stage, exc, tries)
            continue
        if tries:
            log.info("%s: the write went through after %d retries", stage, tries)
        return


async def _pause(stage: str, exc: Exception, tries: int) -> None:
    if tries == 1 or not tries % 10:
        log.warning(
            "%s: %s: %s; trying the same record again (try %d)",
            stage,
            type(exc).__name__,
            exc,
            tries + 1,
        )
    metrics.AGENT_RETRIES.labels(stage).inc()
    await asyncio.sleep(min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (tries - 1)))

"""Ordered delivery (`ordering: "subject"`) on the real broker: a subject whose subscriber fails
for a while holds back only its own later events, also across a SIGKILLed worker.

20 posts, 5 updates each,, sent in order (one webhook per round of updates). The subscriber answers
500 to the first 3 requests for one post; the retry schedule here is 1 s, 2 s, 3 s, so that post's
first update succeeds on its 4th attempt, about 6 s later, and its 4 later updates wait for it.
"""

from __future__ import annotations

import signal
import uuid
from collections import defaultdict
from itertools import groupby
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Stack, worker_process
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.payloads import hootsuite_element
from tests.support.receiver import Received, Receiver

pytestmark = pytest.mark.integration
POSTS, UPDATES, FAILURES = 20, 5, 3
STATES = ("PENDING_APPROVAL", "APPROVED", "SCHEDULED", "SENT", "DELETED")


class FailingSubject:
    """Answers 500 to the first `FAILURES` requests for `failing`, 200 to everything else."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.failed = 0

    def __call__(self, request: Received) -> int:
        if subject(request) == self.failing and self.failed < FAILURES:
            self.failed += 1
            return 500
        return 200


def subject(request: Received) -> str:
    """The post a request is about (its event's subject names it)."""
    event = orjson.loads(request.body)
    post = str(event["data"]["message"]["id"])
    assert str(event["subject"]).endswith(post)
    return post


def update(request: Received) -> int:
    """Which update of its post a request carries (its `timestamp` second)."""
    return int(orjson.loads(request.body)["data"]["timestamp"][17:19])


async def send_updates(stack: Stack, instance: dict[str, Any], run: str) -> list[str]:
    """Every post's updates 0..4, a webhook per update round; returns the posts' subjects."""
    for n in range(UPDATES):
        elements = []
        for post in range(POSTS):
            element = hootsuite_element(f"{run}{post:02d}{n}", STATES[n], f"{run}-p{post}")
            element["data"]["timestamp"] = f"2025-11-20T12:00:{n:02d}Z"
            elements.append(element)
        status, _ = await stack.post(path_of(instance), orjson.dumps(elements))
        assert status == 202
    return [f"{run}-p{post}" for post in range(POSTS)]


async def all_delivered(receiver: Receiver, subjects: list[str], timeout: float) -> None:
    def done() -> bool:
        delivered = {(subject(r), update(r)) for r in receiver.received if r.status == 200}
        return len(delivered) == len(subjects) * UPDATES

    while not done():
        await receiver.wait_for(len(receiver.received) + 1, timeout=timeout)


def sequences(receiver: Receiver) -> dict[str, list[int]]:
    """Per subject, the updates in the order they were received, a request repeated at once
    (a retry, or a repeat after a kill) counted once."""
    by_subject: defaultdict[str, list[int]] = defaultdict(list)
    for request in receiver.received:
        by_subject[subject(request)].append(update(request))
    return {key: [n for n, _ in groupby(updates)] for key, updates in by_subject.items()}


async def ordered_stage(stack: Stack, run: str) -> tuple[Receiver, FailingSubject, dict[str, Any]]:
    decide = FailingSubject(f"{run}-p7")
    receiver = await Receiver(decide=decide).start()
    instance = await new_instance(stack, "hootsuite")
    created = await subscribe(
        stack, receiver.url, instance_ids=[instance["id"]], ordering="subject"
    )
    assert created["ordering"] == "subject"
    return receiver, decide, instance


async def test_a_failing_subject_holds_back_only_its_own_later_events(stack: Stack) -> None:
    run = uuid.uuid4().hex[:6]
    receiver, decide, instance = await ordered_stage(stack, run)
    try:
        subjects = await send_updates(stack, instance, run)
        await all_delivered(receiver, subjects, timeout=60)
        assert decide.failed == FAILURES
        seen = sequences(receiver)
        assert seen == {key: list(range(UPDATES)) for key in subjects}, seen
        first_success = min(
            r.at for r in receiver.received if subject(r) == decide.failing and r.status == 200
        )
        others_done = max(r.at for r in receiver.received if subject(r) != decide.failing)
        print(f"other subjects done {first_success - others_done:.1f} s before the held one")
        assert others_done < first_success  # nothing else waited for the failing subject
    finally:
        await receiver.stop()


async def test_order_holds_across_a_sigkilled_worker(stack: Stack) -> None:
    run = uuid.uuid4().hex[:6]
    receiver, decide, instance = await ordered_stage(stack, run)
    try:
        subjects = await send_updates(stack, instance, run)
        while decide.failed < 2:  # the failing subject's lane is held, its retries running
            await receiver.wait_for(len(receiver.received) + 1, timeout=30)
        assert stack.worker.stop(signal.SIGKILL) == -signal.SIGKILL
        stack.worker = worker_process(stack.settings, stack.directory).start()
        await all_delivered(receiver, subjects, timeout=90)
        seen = sequences(receiver)
        print(f"{len(receiver.received)} requests for {POSTS * UPDATES} updates")
        assert seen == {key: list(range(UPDATES)) for key in subjects}, seen
    finally:
        await receiver.stop()

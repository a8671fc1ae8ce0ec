"""What a soak session's rounds share (`Session`) and what one round has accepted (`RoundState`).

A round's expected set grows in two ways (see `soak_accounting`): from the load generator's 202s
once the load ends, and from the poller's snapshots on `polls.raw` while the round runs and drains.
A poll event expected by an earlier round (a restarted poller may re-report a state) is not
expected again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from bench.soak.accounting import Expected
from bench.soak.config import SoakConfig
from bench.soak.evidence import Records, raw_events
from bench.soak.stack import Routes, SoakStack
from bench.soak.topics import Topics
from pipeline.contract.topics import Topic
from pipeline.events.catalog import Catalog

ACCEPTED = 202  # the ingress's "on webhooks.raw and acknowledged by Kafka"


@dataclass
class Session:
    config: SoakConfig
    stack: SoakStack
    topics: Topics
    catalog: Catalog
    draw: random.Random
    tag: str
    polls_expected: set[str] = field(default_factory=set)  # poll event ids some round expects

    @property
    def routes(self) -> Routes:
        if self.stack.routes is None:
            raise RuntimeError("the soak's instances are not registered")
        return self.stack.routes

    @property
    def grace(self) -> float:
        """How long after its due time a task may still be in flight."""
        return self.config.delivery_timeout + 5.0

    @property
    def settle(self) -> float:
        """How long the worker must have no backlog before what is missing counts as settled."""
        return max(self.config.retry_delays) + self.config.delivery_timeout + 3.0


@dataclass
class RoundState:
    start: dict[TopicPartition, int]
    messages: list[str]  # the simulator's messages of this round
    expected: dict[str, Expected] = field(default_factory=dict)  # event id → expectation
    accepted_at: dict[str, float] = field(default_factory=dict)  # webhook id → first 202 (mono)
    unacknowledged: dict[str, str] = field(default_factory=dict)  # event id → webhook id
    exited: list[str] = field(default_factory=list)  # processes that exited on their own

    def accept_load(self, sent: dict[str, list[Any]], routes: Routes) -> None:
        """The events of every request answered 202; the others' events kept apart."""
        columns = zip(
            sent["finished"], sent["status"], sent["instance"], sent["event_ids"], strict=True
        )
        for finished, status, instance, event_ids in columns:
            for event_id in event_ids:
                webhook = routes.webhook_id(instance, event_id)
                if status == ACCEPTED:
                    self.expected[event_id] = Expected(event_id, webhook)
                    first = self.accepted_at.get(webhook, finished)
                    self.accepted_at[webhook] = min(first, finished)
                else:
                    self.unacknowledged.setdefault(event_id, webhook)
        for event_id in self.expected:
            self.unacknowledged.pop(event_id, None)

    def accept_polls(self, session: Session, records: Records) -> None:
        """Every event of a snapshot on `polls.raw` of this round's window."""
        polls = {Topic.POLLS_RAW: list(records.get(Topic.POLLS_RAW, ()))}
        for event_id, (instance, _) in raw_events(polls, session.catalog).items():
            if event_id in self.expected or event_id in session.polls_expected:
                continue
            webhook = session.routes.webhook_id(instance, event_id)
            self.expected[event_id] = Expected(event_id, webhook, Topic.POLLS_RAW)
            session.polls_expected.add(event_id)

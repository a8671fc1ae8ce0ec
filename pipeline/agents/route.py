"""normalized events → route → `deliveries`: one task per event and matching subscription.

Routing is the last step of the normalize agent's batch (`pipeline.agents.normalize`), not an
agent of its own: a new event's tasks are written beside the event itself, and both are
acknowledged by Kafka before the batch's raw records are acked. Reading `events.normalized` back
cost one more fetch, one more faust stream and one more commit per event; the topic is still
written, for the data teams, and replay reads it.

The subscriptions come from `config.subscriptions`, followed live. Routing a batch waits:
- until the topic has been read to its end once, so no event is routed against a half-loaded
  configuration;
- for a read barrier begun after the batch's records were fetched: a subscription whose 201 came
  before a webhook was sent is acked before that webhook's record was written, so it applies to
  it, however far behind the follower's own fetch is (one end-offsets request per batch);
- while a subscription's record cannot be read: whether an event matches it is unknown, and a
  record that cannot be read is not a deleted one.
"""

from __future__ import annotations

import logging

from pipeline import metrics
from pipeline.agents.guard import internal_error
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView, unreadable_summary
from pipeline.contract.output import Output
from pipeline.delivery.tasks import encode, new_task, task_key
from pipeline.events.cloudevent import CloudEvent
from pipeline.events.invalid import encode_invalid

log = logging.getLogger(__name__)


class Router:
    def __init__(
        self, subscriptions: CompactedView[Subscription], *, deliveries: str, invalid: str
    ) -> None:
        """`deliveries`, `invalid`: the names of the topics the tasks and dead letters go to."""
        self._subscriptions = subscriptions
        self.deliveries = deliveries
        self._invalid = invalid

    async def ready(self, fetched: float) -> None:
        """Returns once every subscription Kafka acked before `fetched` (`time.monotonic()`,
        taken after the batch's records were fetched) is read, and every one can be read."""
        view = self._subscriptions
        await view.caught_up.wait()
        await view.synced_since(fetched)
        if not view.unreadable:
            return
        log.warning("routing waits: %s", unreadable_summary([view]))
        while view.unreadable:
            await view.changed()
        log.info("routing resumes: every subscription can be read")

    def outputs(self, event: CloudEvent, value: bytes) -> list[Output]:
        """The tasks one event becomes, serialised; a failure becomes its dead letter. They are
        counted (`pipeline_deliveries_routed_total`) once Kafka has them, by the caller."""
        try:
            kind, instance = str(event.get("type")), event.get("instanceid")
            subject = event.get("subject")
            tasks = [
                Output(
                    self.deliveries,
                    task_key(s.id, subject),
                    encode(new_task(s.id, event, reason="live", encoded=value)),
                )
                for s in self._subscriptions.values()
                if s.matches(kind, instance)
            ]
        except Exception as exc:
            log.exception("route: an event failed unexpectedly; dead-lettered")
            metrics.AGENT_ERRORS.labels("route").inc()
            metrics.EVENTS_INVALID.labels("route", "internal_error").inc()
            return [Output(self._invalid, b"", encode_invalid(internal_error("route", exc, value)))]
        return tasks

"""One soak round: workers for its kind → warm-up → open-loop load with one SIGKILL and restart at
a random moment → drain → the round's figures, from the topics and the subscriber's log.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from bench.children import Child
from bench.loadgen import LoadSpec
from bench.soak.accounting import account
from bench.soak.config import BROKER, WORKER_OF_TWO
from bench.soak.drain import drain, warm_up
from bench.soak.evidence import evidence, polled_states, raw_events
from bench.soak.faults import Fault, inject
from bench.soak.polls import FINAL_STATE, now_utc
from bench.soak.session import ACCEPTED, RoundState, Session
from bench.soak.timing import (
    at_risk_estimate,
    before_kill_ms,
    by_kill,
    fresh_resume_after,
    in_flight_at,
    repeat_causes,
    resume_after,
    unconcluded_at,
)
from bench.soak.topics import window_topics
from pipeline.contract.topics import Topic

LOAD_STARTUP = 1.5  # seconds for the load generator's interpreter to start sending
REQUEST_TIMEOUT = 15.0  # the load generator's per-request limit (> the ingress's 5 s ack wait)


@dataclass(frozen=True)
class RoundOutcome:
    figures: dict[str, Any]
    undelivered: dict[str, str]  # webhook id → verdict, for the session-end recheck


async def _load_with_fault(
    session: Session, number: int, state: RoundState, kind: str
) -> tuple[dict[str, list[Any]], Fault]:
    config, stack = session.config, session.stack
    spec = LoadSpec(
        base_url=stack.base_url,
        kind="webhooks",
        rate=config.rate,
        duration=config.duration,
        tag=f"{session.tag}r{number}",
        mix=config.mix,
        instances=session.routes.instances,
        connections=64,
        timeout=REQUEST_TIMEOUT,
    )
    spec_path, out_path = (
        stack.work / f"round-{number}.spec.json",
        stack.work / f"round-{number}.json",
    )
    spec_path.write_bytes(spec.to_json())
    argv = ["bench.soak.load", str(spec_path), str(out_path)]
    load = Child(f"load-{number}", argv, stack.logs).start()
    # The fault's moment is drawn before the load starts: a scheduled moment, not a wait.
    await asyncio.sleep(LOAD_STARTUP + session.draw.uniform(*config.kill_window) * config.duration)
    fault = await inject(stack, kind, session.draw)
    code = await load.wait(within=config.duration + REQUEST_TIMEOUT + 60)
    if code != 0:
        raise RuntimeError(f"the load generator failed ({code}):\n{load.log_tail()}")
    return orjson.loads(out_path.read_bytes()), fault


def _load_figures(sent: dict[str, list[Any]], fault: Fault) -> dict[str, Any]:
    statuses = Counter(str(s) for s in sent["status"])
    origin = min(sent["due"]) if sent["due"] else fault.killed_at
    return {
        "requests": len(sent["status"]),
        "duplicates_sent": sum(sent["duplicate"]),
        "responses": dict(sorted(statuses.items())),
        "accepted_requests": statuses.get(str(ACCEPTED), 0),
        "unanswered": statuses.get("0", 0),
        "refused": sum(n for s, n in statuses.items() if s not in {str(ACCEPTED), "0"}),
        "origin": origin,
    }


def _outage(fault: Fault) -> float:
    """Seconds after the kill without commits: the broker's downtime (it is the coordinator)."""
    if fault.kind != BROKER:
        return 0.0
    back = fault.ready_at if fault.ready_at is not None else fault.restarted_at
    return back - fault.killed_at


async def _judge(session: Session, state: RoundState, fault: Fault) -> dict[str, Any]:
    topics, log = session.topics, session.stack.subscriber
    await log.refresh()
    records = await topics.read(state.start)
    state.accept_polls(session, records)
    raw = raw_events(records, session.catalog)
    committed = await topics.committed(session.stack.settings.app_id)
    found = evidence(records, raw, committed, log.by_webhook, time.time())
    result = account(state.expected.values(), found, session.grace)
    polled = polled_states(records)
    unacknowledged_delivered = sum(1 for wid in state.unacknowledged.values() if log.delivered(wid))
    answers = log.answers
    webhook_ids = [e.webhook_id for e in state.expected.values()]
    causes = repeat_causes(found, webhook_ids, fault.killed_at, fault.kind)
    figures = {
        **result.to_dict(),
        "accepted_webhook_events": sum(
            1 for e in state.expected.values() if e.raw_topic == Topic.WEBHOOKS_RAW
        ),
        "accepted_poll_events": sum(
            1 for e in state.expected.values() if e.raw_topic == Topic.POLLS_RAW
        ),
        "unacknowledged_events": len(state.unacknowledged),
        "unacknowledged_delivered": unacknowledged_delivered,
        "in_flight_at_kill": in_flight_at(answers, fault.killed_at),
        "unconcluded_at_kill": unconcluded_at(
            found,
            webhook_ids,
            fault.killed_at,
            fault.killed_wall,
            kind=fault.kind,
            timeout=session.config.delivery_timeout,
        ),
        "at_risk_estimate": at_risk_estimate(
            answers,
            found,
            fault.killed_at,
            fault.killed_wall,
            kind=fault.kind,
            outage=_outage(fault),
        ),
        "repeat_causes": causes,
        "before_kill_ms": before_kill_ms(found, webhook_ids, fault.killed_at, fault.kind),
        "repeated_by_kill": by_kill(causes),
        "routed_twice": sum(
            1
            for wid in webhook_ids
            if sum(1 for s in found.tasks.get(wid, ()) if s.topic == Topic.DELIVERIES) > 1
        ),
        "timed_out": sum(1 for wid in webhook_ids if wid in found.timed_out),
        "resume_s": resume_after(answers, fault.restarted_at),
        "fresh_resume_s": fresh_resume_after(log.by_webhook, state.accepted_at, fault.restarted_at),
        "accepted_after_restart": sum(
            1 for t in state.accepted_at.values() if t >= fault.restarted_at
        ),
        "polls": {
            "messages": len(state.messages),
            "sent": len(session.stack.polls.sent(state.messages)),
            "missed": sum(1 for m in state.messages if (m, FINAL_STATE) not in polled),
        },
        "delivery_partitions": sorted({r.partition for r in records.get(Topic.DELIVERIES, ())}),
    }
    return {"figures": figures, "undelivered": result.undelivered}


async def run_round(session: Session, number: int) -> RoundOutcome:
    config, stack = session.config, session.stack
    kind = config.kind_of(number)
    exited = await stack.ensure_running()
    await stack.set_workers(2 if kind == WORKER_OF_TWO else 1)
    warm = await warm_up(session, number)
    start = await session.topics.end_offsets(window_topics(stack.settings))
    messages = stack.polls.schedule(
        config.poll_messages,
        now_utc() + timedelta(seconds=LOAD_STARTUP),
        config.duration,
        f"{session.tag}r{number}",
    )
    state = RoundState(start=start, messages=messages, exited=exited)
    sent, fault = await _load_with_fault(session, number, state, kind)
    state.exited += await stack.ensure_running()
    state.accept_load(sent, session.routes)
    load = _load_figures(sent, fault)
    ended, waited = await drain(session, state)
    judged = await _judge(session, state, fault)
    origin = load.pop("origin")
    figures = {
        "round": number,
        "kind": kind,
        "workers": len(stack.workers),
        "exited_on_their_own": state.exited,
        "warm_up": warm,
        "load": load,
        "fault": fault.to_dict(origin),
        "drain": {"ended": ended, "seconds": waited},
        **judged["figures"],
    }
    return RoundOutcome(figures, judged["undelivered"])

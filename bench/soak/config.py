"""What one `python -m bench soak` session does, from its command line: rounds, load, faults.

Each round kills one process (its *kind*). Without `--kinds` the kinds follow `CYCLE`, so any 20
rounds hold 10 single-worker kills, 4 kills of one of two workers, 2 ingress, 2 poller and 2 broker
kills, and the first three rounds are a worker, one of two workers and the broker.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.ladder.config import RESULTS_DIR
from bench.payloads import Mix

WORKER = "worker"
WORKER_OF_TWO = "worker-of-two"
INGRESS = "ingress"
POLLER = "poller"
BROKER = "broker"
KINDS = (WORKER, WORKER_OF_TWO, INGRESS, POLLER, BROKER)
CYCLE = (
    WORKER,
    WORKER_OF_TWO,
    BROKER,
    WORKER,
    INGRESS,
    WORKER,
    WORKER_OF_TWO,
    POLLER,
    WORKER,
    WORKER,
)


@dataclass(frozen=True)
class SubscriberSpec:
    """How the soak's subscriber answers: a share slowly (but within the timeout), a share 500."""

    slow_share: float = 0.20
    slow_seconds: tuple[float, float] = (3.0, 4.0)
    fail_share: float = 0.05


@dataclass(frozen=True)
class SoakConfig:
    rounds: int = 20
    rate: float = 60.0  # webhooks/s, open loop
    duration: float = 25.0  # seconds of load per round
    kill_window: tuple[float, float] = (0.25, 0.6)  # the kill falls in this share of the load
    drain: float = 180.0  # at most this long waiting for a round's events
    resume_limit: float = 60.0  # a round needing longer to deliver again fails the run
    kinds: tuple[str, ...] = ()  # empty: follow CYCLE
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(1, 10**6))
    mix: Mix = field(default_factory=Mix)  # 10 % resends of a recent webhook
    subscriber: SubscriberSpec = field(default_factory=SubscriberSpec)
    poll_messages: int = 8  # Hootsuite messages per round that go SCHEDULED → SENT
    # Delivery settings of the pipeline under test. The subscriber holds 20 % of requests for
    # 3-4 s, so each request in flight takes ~0.7 s on average, and the default 8 per
    # subscription would deliver ~11 events/s: the run would measure that, not the faults. 20 per
    # subscription matches the worker's connection pool (`pipeline/delivery/sender.py`: 20 per
    # host and port): more would queue for a connection inside the delivery timeout and turn
    # answered requests into timeouts and repeats. Short retry delays keep the drain short.
    retry_schedule: str = "2,5,10"
    delivery_timeout: float = 5.0
    delivery_concurrency: int = 64  # per retry tier and worker
    per_subscription: int = 20
    results_dir: Path = RESULTS_DIR
    keep_logs: bool = False  # keep the processes' logs (always kept after a failure)
    env: dict[str, str] = field(default_factory=dict)  # extra PIPELINE_* for the processes

    def kind_of(self, number: int) -> str:
        """The kind of round `number` (1-based)."""
        kinds = self.kinds or CYCLE
        return kinds[(number - 1) % len(kinds)]

    def schedule(self) -> list[str]:
        return [self.kind_of(number) for number in range(1, self.rounds + 1)]

    @property
    def retry_delays(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.retry_schedule.split(",") if part.strip())


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(kinds) - set(KINDS))
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(KINDS)}")
    return kinds


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("PIPELINE_"):
        raise argparse.ArgumentTypeError("expected PIPELINE_NAME=value")
    return name, value


def parser() -> argparse.ArgumentParser:
    defaults = SoakConfig()
    args = argparse.ArgumentParser(
        prog="python -m bench soak",
        description="Fault injection: per round, open-loop load, SIGKILL one process, restart it, "
        "then account for every accepted event by reading the topics.",
    )
    add = args.add_argument
    add("--rounds", type=int, default=defaults.rounds)
    add("--rate", type=float, default=defaults.rate, help="webhooks/s")
    add("--duration", type=float, default=defaults.duration, help="seconds of load per round")
    add("--drain", type=float, default=defaults.drain, help="max seconds waiting per round")
    add("--resume-limit", type=float, default=defaults.resume_limit)
    add("--kinds", type=_kinds, default=(), help=f"cycle of kinds to kill: {','.join(KINDS)}")
    add("--seed", type=int, default=None, help="repeat a run: its kill moments and answers")
    add("--duplicates", type=float, default=defaults.mix.duplicate_share, help="resend share")
    add("--poll-messages", type=int, default=defaults.poll_messages)
    add("--retry-schedule", default=defaults.retry_schedule)
    add("--delivery-concurrency", type=int, default=defaults.delivery_concurrency)
    add("--per-subscription", type=int, default=defaults.per_subscription)
    add("--results-dir", type=Path, default=defaults.results_dir)
    add("--keep-logs", action="store_true", help="keep the processes' logs and temp dir")
    add("--env", type=_env_pair, action="append", default=[], help="PIPELINE_X=value")
    return args


def from_args(argv: list[str] | None = None) -> SoakConfig:
    given = parser().parse_args(argv)
    if given.rounds < 1 or given.rate <= 0 or given.duration < 8:
        parser().error("--rounds must be at least 1, --rate positive, --duration at least 8 s")
    defaults = SoakConfig()
    return SoakConfig(
        rounds=given.rounds,
        rate=given.rate,
        duration=given.duration,
        drain=given.drain,
        resume_limit=given.resume_limit,
        kinds=given.kinds,
        seed=given.seed if given.seed is not None else defaults.seed,
        mix=Mix(duplicate_share=given.duplicates),
        poll_messages=given.poll_messages,
        retry_schedule=given.retry_schedule,
        delivery_concurrency=given.delivery_concurrency,
        per_subscription=given.per_subscription,
        results_dir=given.results_dir,
        keep_logs=given.keep_logs,
        env=dict(given.env),
    )

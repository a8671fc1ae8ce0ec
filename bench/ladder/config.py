"""What one `python -m bench` session measures, from its command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from bench.payloads import Mix

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"  # bench/results, for every job
PROFILE_CHOICES = ("auto", "ingress", "worker", "both", "none")


@dataclass(frozen=True)
class BenchConfig:
    # the rates issue 25's targets name (100/s latency, 750/s sustained) and around them
    rates: tuple[float, ...] = (100.0, 250.0, 500.0, 750.0, 1000.0)
    duration: float = 20.0  # seconds per fixed-rate pipeline run
    max_duration: float = 10.0  # seconds of the closed-loop maximum-throughput run
    max_concurrency: int = 64  # clients of the closed-loop runs
    baseline_duration: float = 8.0  # seconds per baseline run (each rate and the maximum)
    connections: int = 256  # keep-alive connections the load generator may open
    mix: Mix = field(default_factory=Mix)
    drain: float = 60.0  # at most this long waiting for deliveries after a run
    quiet: float = 8.0  # no delivery for this long ends the drain (> the 5 s first retry)
    kafka_records: int = 30000  # records of the maximum-throughput Kafka loop
    profile: str = "auto"
    baselines: bool = True  # off only to iterate quickly on the pipeline
    ingress_only: bool = False  # no worker: the ingress against bare aiohttp, nothing delivered
    # the normalize+dedup stage against Quix Streams and a bare loop, last (bench/peers/main.py)
    peer: bool = True
    peer_webhooks: int = 6000
    peer_repeat: int = 1
    # the worker against bare_flow, each draining one backlog (bench/drains/, issue 25), after
    # the ladder: `flow_drains` backlogs of `flow_webhooks` webhooks; 0 drains skips the stage
    flow_drains: int = 3
    flow_webhooks: int = 8000
    budget: float = 840.0  # seconds; a run that would not fit is skipped and reported
    results_dir: Path = RESULTS_DIR
    env: dict[str, str] = field(default_factory=dict)  # extra PIPELINE_* for both processes


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("PIPELINE_"):
        raise argparse.ArgumentTypeError("expected PIPELINE_NAME=value")
    return name, value


def parser() -> argparse.ArgumentParser:
    defaults = BenchConfig()
    mix = defaults.mix
    args = argparse.ArgumentParser(
        prog="python -m bench",
        description="End-to-end benchmark of the pipeline against same-session baselines.",
    )
    add = args.add_argument
    add("--rates", type=float, nargs="+", default=list(defaults.rates), help="webhooks/s")
    add("--duration", type=float, default=defaults.duration, help="seconds per rate")
    add("--max-duration", type=float, default=defaults.max_duration)
    add("--max-concurrency", type=int, default=defaults.max_concurrency)
    add("--baseline-duration", type=float, default=defaults.baseline_duration)
    add("--connections", type=int, default=defaults.connections)
    add("--duplicates", type=float, default=mix.duplicate_share, help="share of resends")
    add("--hootsuite-share", type=float, default=mix.hootsuite_share)
    add("--batch-size", type=int, default=mix.batch_size, help="events per Hootsuite batch")
    add("--text-bytes", type=int, default=mix.text_bytes, help="post text per Oktopost body")
    add("--drain", type=float, default=defaults.drain)
    add("--quiet", type=float, default=defaults.quiet)
    add("--kafka-records", type=int, default=defaults.kafka_records)
    add("--profile", choices=PROFILE_CHOICES, default=defaults.profile)
    add("--no-baselines", action="store_true", help="pipeline runs only (quick iterations)")
    add(
        "--ingress-only",
        action="store_true",
        help="no worker: the ingress's runs (nothing delivered) and the bare-aiohttp baseline only",
    )
    add("--no-peer", action="store_true", help="no peer comparison (Quix Streams, bare loop)")
    add("--peer-webhooks", type=int, default=defaults.peer_webhooks, help="the peer's backlog")
    add("--peer-repeat", type=int, default=defaults.peer_repeat, help="runs of each peer runner")
    add(
        "--flow-drains",
        type=int,
        default=defaults.flow_drains,
        help="backlogs drained by the worker and then bare_flow (0: none)",
    )
    add("--flow-webhooks", type=int, default=defaults.flow_webhooks, help="webhooks per backlog")
    add("--budget", type=float, default=defaults.budget, help="seconds for the whole session")
    add("--results-dir", type=Path, default=defaults.results_dir)
    add("--env", type=_env_pair, action="append", default=[], help="PIPELINE_X=value")
    return args


def from_args(argv: list[str] | None = None) -> BenchConfig:
    given = parser().parse_args(argv)
    return BenchConfig(
        rates=tuple(sorted(given.rates)),
        duration=given.duration,
        max_duration=given.max_duration,
        max_concurrency=given.max_concurrency,
        baseline_duration=given.baseline_duration,
        connections=given.connections,
        mix=Mix(given.duplicates, given.hootsuite_share, given.batch_size, given.text_bytes),
        drain=given.drain,
        quiet=given.quiet,
        kafka_records=given.kafka_records,
        profile=given.profile,
        baselines=not given.no_baselines,
        ingress_only=given.ingress_only,
        peer=not given.no_peer,
        peer_webhooks=given.peer_webhooks,
        peer_repeat=given.peer_repeat,
        flow_drains=given.flow_drains,
        flow_webhooks=given.flow_webhooks,
        budget=given.budget,
        results_dir=given.results_dir,
        env=dict(given.env),
    )

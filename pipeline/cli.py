"""The `pipeline` command: one entry point for every process and operation."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.logs import configure as configure_logging
from pipeline.settings import Settings, load_settings

PROCESSES = ["ingress", "worker", "poller"]  # what `pipeline run` starts; each is also a subcommand


def _out(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - command output is this module's job


def _kafka(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.ops import local_kafka  # noqa: PLC0415 - keeps `pipeline --help` fast

    kafka = local_kafka.LocalKafka.from_settings(settings)
    if args.action == "start":
        _, message = asyncio.run(local_kafka.start(kafka))
        _out(message)
        return 0
    if args.action == "stop":
        _out(asyncio.run(local_kafka.stop(kafka)))
        return 0
    ready, message = asyncio.run(local_kafka.status(kafka))
    _out(message)
    return 0 if ready else 3


def _topics(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.contract.changelogs import changelog_specs  # noqa: PLC0415
    from pipeline.contract.topics import load_manifest  # noqa: PLC0415
    from pipeline.ops.topics_apply import Outcome, apply_topics  # noqa: PLC0415

    if args.action == "asyncapi":
        return _asyncapi(settings, args.output)
    if args.output is not None:
        raise PipelineError("-o/--output is for `pipeline topics asyncapi`")
    specs = load_manifest(settings) + changelog_specs(settings)
    if args.action == "list":
        for spec in specs:
            _out(f"{spec.name}\tkey={spec.key}\tpartitions={spec.partitions}\t{spec.cleanup}")
        return 0
    reports = asyncio.run(apply_topics(settings.kafka_bootstrap, specs))
    for report in reports:
        _out(report.line())
    differing = sum(report.outcome is Outcome.DIFFERS for report in reports)
    if differing:
        _out(f"{differing} topic(s) differ from the manifest: fix the cluster or the manifest")
        return 1
    return 0


def _asyncapi(settings: Settings, output: str | None) -> int:
    import orjson  # noqa: PLC0415

    from pipeline.contract.asyncapi import asyncapi_document  # noqa: PLC0415

    document = orjson.dumps(asyncapi_document(settings), option=orjson.OPT_INDENT_2)
    if output is None:
        _out(document.decode())
    else:
        Path(output).write_bytes(document + b"\n")
        _out(f"wrote {output}")
    return 0


def _tail(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.ops.tail import tail  # noqa: PLC0415

    coroutine = tail(
        settings.kafka_bootstrap,
        settings.topic(args.topic),
        from_beginning=args.from_beginning,
        limit=args.max,
        idle_timeout=args.idle_timeout,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coroutine)
    return 0


def _secrets(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.config.keyring import key_ring_for, new_key_entry  # noqa: PLC0415
    from pipeline.ops.secrets_rotate import rotate  # noqa: PLC0415

    if args.action == "new-key":
        _out(new_key_entry(args.id))  # for the operator to put first in PIPELINE_SECRET_KEYS
        return 0
    ring = key_ring_for(settings)
    for rotated in asyncio.run(rotate(settings, ring)):
        _out(rotated.line(ring.primary_id))
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415

    from pipeline.agents import register_agents  # noqa: PLC0415
    from pipeline.config.key_check import StopOnForeignKey, check_config_keys  # noqa: PLC0415
    from pipeline.config.keyring import key_ring_for  # noqa: PLC0415
    from pipeline.config.view import CompactedView  # noqa: PLC0415
    from pipeline.runtime.app import create_app  # noqa: PLC0415
    from pipeline.runtime.worker import run_worker  # noqa: PLC0415

    ring = key_ring_for(settings)
    asyncio.run(check_config_keys(settings, ring))  # before joining the group: see key_check
    # uvloop, set before faust creates its loop: the worker too is event-loop bound
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    views: list[CompactedView[Any]] = []
    stop = StopOnForeignKey(ring)
    app = create_app(settings, views)
    register_agents(app, settings, config_views=views, on_unreadable=stop)
    run_worker(app, settings, stop.exit_code)
    return 0


def _ingress(settings: Settings, args: argparse.Namespace) -> int:
    # uvloop: the ingress is event-loop bound (many short requests, each awaiting a Kafka ack)
    import uvloop  # noqa: PLC0415

    from pipeline.config.key_check import check_config_keys  # noqa: PLC0415
    from pipeline.config.keyring import key_ring_for  # noqa: PLC0415
    from pipeline.ingress import processes  # noqa: PLC0415
    from pipeline.ingress.server import run_ingress  # noqa: PLC0415

    if args.member_of is None:  # members were checked by the parent that started them
        asyncio.run(check_config_keys(settings, key_ring_for(settings)))
    if args.member_of is not None:  # one of PIPELINE_INGRESS_PROCESSES, started by the parent
        if not processes.die_with_parent(args.member_of):
            return 0
        uvloop.run(run_ingress(settings, reuse_port=True, render=processes.render_all_members))
        return 0
    if settings.ingress_processes > 1:
        return uvloop.run(processes.run_members(settings))
    uvloop.run(run_ingress(settings))
    return 0


def _poller(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.config.key_check import check_config_keys  # noqa: PLC0415
    from pipeline.config.keyring import key_ring_for  # noqa: PLC0415
    from pipeline.contract.topics import Topic  # noqa: PLC0415
    from pipeline.pollers.credentials import credentials_decoder  # noqa: PLC0415
    from pipeline.pollers.service import run_poller  # noqa: PLC0415

    ring = key_ring_for(settings)
    tokens = (settings.topic(Topic.POLLERS_CREDENTIALS), credentials_decoder(ring))
    asyncio.run(check_config_keys(settings, ring, [tokens]))
    asyncio.run(run_poller(settings))
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.demo.plan import demo_plan  # noqa: PLC0415
    from pipeline.ops.supervisor import Plan, run_all  # noqa: PLC0415

    plan = demo_plan(settings, PROCESSES) if args.demo else Plan({name: [] for name in PROCESSES})
    return asyncio.run(run_all(settings, plan))


def _simulator(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.demo.simulator import run_demo_simulator  # noqa: PLC0415

    asyncio.run(run_demo_simulator(settings.bind_host, args.port or settings.demo_simulator_port))
    return 0


def _receiver(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.demo.receiver import run_receiver  # noqa: PLC0415

    port = args.port or settings.demo_receiver_port
    asyncio.run(run_receiver(settings.bind_host, port, args.secret))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Social events pipeline. Configuration: PIPELINE_* environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kafka = commands.add_parser(
        "kafka",
        help="the local development broker (Kafka 3.9.1, KRaft)",
        description="start resolves the jars and formats storage the first time, waits until a "
        "metadata request succeeds, and is a no-op (with a message) while a broker runs; stop "
        "shuts it down (SIGTERM, SIGKILL after 45 s); status exits 0 only when it answers.",
    )
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.set_defaults(handler=_kafka)

    topics = commands.add_parser(
        "topics",
        help="apply or list topics/manifest.toml, or print it as AsyncAPI",
        description="apply creates the topics of topics/manifest.toml that are missing, reports "
        "every difference on existing ones (partitions, cleanup policy, retention) without "
        "changing them, and exits 1 when something differs; twice is a no-op. list prints the "
        "manifest as the cluster will see it. asyncapi prints the manifest and its schemas as "
        "an AsyncAPI 3.0.0 document.",
    )
    topics.add_argument("action", choices=["apply", "list", "asyncapi"])
    topics.add_argument(
        "-o", "--output", metavar="FILE", help="asyncapi: write the document here, not to stdout"
    )
    topics.set_defaults(handler=_topics)

    tail = commands.add_parser("tail", help="print a topic's records as JSON lines")
    tail.add_argument("topic", help="manifest name, e.g. events.normalized")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--max", type=int, default=None, help="stop after this many records")
    tail.add_argument(
        "--idle-timeout", type=float, default=None, help="stop after this many quiet seconds"
    )
    tail.set_defaults(handler=_tail)

    secrets = commands.add_parser(
        "secrets",
        help="rotate: re-seal config records under the first key; new-key: print one",
        description="rotate re-writes every record of config.instances and "
        "config.subscriptions that holds a plain secret or one sealed under an older key, sealed "
        "under the first key of PIPELINE_SECRET_KEYS, and prints how many per topic; twice is "
        "a no-op. new-key prints a new id:base64key entry for PIPELINE_SECRET_KEYS.",
    )
    secrets.add_argument("action", choices=["rotate", "new-key"])
    secrets.add_argument("--id", default="k1", help="new-key: the key's id (default k1)")
    secrets.set_defaults(handler=_secrets)

    ingress = commands.add_parser(
        "ingress",
        help="webhooks in and the admin API (port 8080)",
        description="Webhooks in and the admin API; with PIPELINE_INGRESS_PROCESSES=N, N "
        "processes on that port.",
    )
    ingress.add_argument("--member-of", type=int, default=None, help=argparse.SUPPRESS)
    ingress.set_defaults(handler=_ingress)

    worker = commands.add_parser(
        "worker",
        help="run the faust agents (web port 6066)",
        description="The faust agents: normalize + dedup + route, and deliver.",
    )
    worker.set_defaults(handler=_worker)

    poller = commands.add_parser(
        "poller",
        help="poll providers' REST APIs (port 8081)",
        description="Polls providers' REST APIs for the instances with polling enabled and "
        "manages Oktopost webhooks; run several and they share the instances, taking over those "
        "of one that dies.",
    )
    poller.set_defaults(handler=_poller)

    run = commands.add_parser(
        "run",
        help="broker + topics + every process, in the foreground",
        description="Starts the local broker unless one answers, applies the topic manifest, "
        "runs ingress, worker and poller in the foreground, each logging to "
        "PIPELINE_DATA_DIR/logs/<process>.log; Ctrl-C or SIGTERM stops the processes, then the "
        "broker if this run started it. A process that exits on its own (a crash, or the "
        "worker's stall watchdog) is reported and restarted after 1, 2, 4 … s (at most 30 s "
        "apart; back to 1 s once it ran a minute).",
    )
    run.add_argument(
        "--demo", action="store_true", help="also a Hootsuite simulator and a printing receiver"
    )
    run.set_defaults(handler=_run)

    simulator = commands.add_parser(
        "simulator",
        help="the Hootsuite API simulator (demo data)",
        description="The Hootsuite API simulator with a trickle of demo messages, and Oktopost's "
        "webhooks API under /oktopost pushing a postSent each round.",
    )
    simulator.add_argument("--port", type=int, default=None, help="default: 8090")
    simulator.set_defaults(handler=_simulator)

    receiver = commands.add_parser(
        "receiver",
        help="a receiver that prints each delivery",
        description="Prints each delivery it receives and whether its signature matches and its "
        "webhook-timestamp is within 5 minutes.",
    )
    receiver.add_argument("--port", type=int, default=None, help="default: 9000")
    receiver.add_argument("--secret", default=None, help="whsec_… to check signatures with")
    receiver.set_defaults(handler=_receiver)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_file)
        return handler(settings, args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except BrokenPipeError:
        # The reader went away (`pipeline topics asyncapi | head`): as a Unix tool does, stop
        # quietly; stdout goes to /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141

"""docs/reference/cli.md: the `pipeline` command, from its argparse parser."""

from __future__ import annotations

import argparse

from pipeline.cli import _parser
from pipeline.docs_gen.markdown import code, header, table

INTRO = (
    "Everything is one command, `pipeline` (in `.venv/bin/` after `make setup`), configured by "
    "the `PIPELINE_*` variables of the [settings](settings.md). Every HTTP process serves "
    "`GET /healthz` (alive), `GET /readyz` (connected to Kafka, configuration loaded; the "
    "worker and the poller also fail it on a record they cannot read) and `GET /metrics` "
    "(Prometheus)."
)


def render() -> str:
    parser = _parser()
    sections = [header("Command line", "`pipeline.cli._parser()`", INTRO)]
    for name, command in subcommands(parser).items():
        sections.append(_command(name, command))
    return "\n".join(sections)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command(name: str, command: argparse.ArgumentParser) -> str:
    usage = " ".join(command.format_usage().removeprefix("usage: ").split())
    parts = [f"## `pipeline {name}`\n", f"```\n{usage}\n```\n"]
    if command.description:
        parts.append(command.description + "\n")
    rows = [_argument(action) for action in command._actions if _shown(action)]
    if rows:
        parts.append(table(("argument", "meaning"), rows))
    return "\n".join(parts)


def _shown(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)


def _argument(action: argparse.Action) -> tuple[str, str]:
    names = ", ".join(code(option) for option in action.option_strings) or code(action.dest)
    meaning = action.help or ""
    if action.choices:
        meaning = " ".join([meaning, "one of:", ", ".join(code(c) for c in action.choices)])
    return names, meaning.strip()

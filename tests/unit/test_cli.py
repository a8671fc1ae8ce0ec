"""pipeline.cli: a reader that goes away mid-output ends the command quietly, as Unix tools do."""

from __future__ import annotations

import os
import sys

import pytest

from pipeline import cli


def test_a_closed_pipe_ends_the_command_with_141_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def reader_gone(message: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    silenced: list[int] = []
    monkeypatch.setattr(cli, "_out", reader_gone)
    monkeypatch.setattr(os, "dup2", lambda source, target: silenced.append(target))
    assert cli.main(["topics", "asyncapi"]) == 141
    assert silenced == [sys.stdout.fileno()]  # now /dev/null: the final flush cannot fail

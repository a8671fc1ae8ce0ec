"""`Output`: one record a stage writes, serialised: its topic, key and value."""

from __future__ import annotations

from typing import NamedTuple


class Output(NamedTuple):
    """One record to write; its topic's headers are added where it is written
    (`pipeline.contract.headers`)."""

    topic: str
    key: bytes
    value: bytes

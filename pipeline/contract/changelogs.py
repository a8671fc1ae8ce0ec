"""The worker's table changelogs as topics: faust names and creates them, the window sizes them.

`pipeline topics apply` creates them beside the manifest's topics and reports a difference (a
changelog created under another window, or by faust's windowed tables before), so the topic does
not keep what the tables (`pipeline.runtime.expiring_table`) have forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.contract.topics import Topic, TopicSpec, topic_spec
from pipeline.settings import Settings

# table → the source topic it is co-partitioned with (its agent's input)
TABLE_SOURCES = {"dedup": Topic.WEBHOOKS_RAW, "delivered": Topic.DELIVERIES}


def changelog_config(width: float) -> dict[str, str]:
    """The changelog keeps what the store may still hold: two windows, then it is deleted."""
    window_ms = max(1000, int(width * 1000))
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(2 * window_ms),
        "segment.ms": str(window_ms),  # a segment can only be deleted once it is closed
    }


@dataclass(frozen=True)
class ChangelogSpec(TopicSpec):
    """A table's changelog as `pipeline topics apply` creates and checks it: faust names it
    (`<app id>-<table>-changelog`), the window sets its retention (`changelog_config`)."""

    window_configs: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        return dict(self.window_configs)


def changelog_specs(settings: Settings) -> list[TopicSpec]:
    """The tables' changelog topics, after the manifest's topics in `topics apply`."""
    specs: list[TopicSpec] = []
    for table, source in TABLE_SOURCES.items():
        configs = changelog_config(settings.dedup_window)
        specs.append(
            ChangelogSpec(
                name=f"{settings.app_id}-{table}-changelog",
                declared=source,
                key=f"the {table} table's key",
                partitions=topic_spec(settings, source).partitions,
                cleanup=configs["cleanup.policy"],
                retention_ms=int(configs["retention.ms"]),
                description=f"Changelog of the {table} table (faust), kept two windows.",
                window_configs=configs,
            )
        )
    return specs

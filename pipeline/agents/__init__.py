"""The faust agents, in flow order: normalize (+ dedup) → route → deliver."""

from __future__ import annotations

import faust

from pipeline.agents.normalize import register_normalize
from pipeline.events.catalog import Catalog
from pipeline.settings import Settings
from pipeline.tables import declare_tables
from pipeline.topics import declare_topics


def register_agents(app: faust.App, settings: Settings) -> None:
    topics = declare_topics(app, settings)
    tables = declare_tables(app, settings)
    register_normalize(app, topics, tables, Catalog(settings.topics_dir), settings.dedup_window)

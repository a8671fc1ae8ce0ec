"""pipeline.agents.register_agents: which agent reads which topic, on a faust app not started."""

from __future__ import annotations

from pathlib import Path

from pipeline.agents import register_agents
from pipeline.runtime.app import create_app
from pipeline.settings import load_settings


def test_normalize_reads_both_raw_topics_and_one_deliver_agent_serves_each_tier(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        app_id="unit-agents",
        topic_prefix="unit.",
        retry_schedule=(1.0, 2.0),
        delivery_concurrency=3,
        secret_keys="k1:" + "A" * 43 + "=",
    )
    app = create_app(settings)
    register_agents(app, settings)
    agents = dict(app.agents.items())
    assert sorted(agents) == ["deliver-tier-0", "deliver-tier-1", "deliver-tier-2", "normalize"]
    assert set(agents["normalize"].channel.topics) == {"unit.webhooks.raw", "unit.polls.raw"}
    assert agents["normalize"].concurrency == 1  # dedup and order per partition need one
    tiers = ["unit.deliveries", "unit.deliveries.retry.1", "unit.deliveries.retry.2"]
    for tier, topic in enumerate(tiers):
        agent = agents[f"deliver-tier-{tier}"]
        assert list(agent.channel.topics) == [topic]
        assert agent.concurrency == 3  # readers into the tier's one set of lanes
    assert set(app.tables) == {"dedup", "delivered"}

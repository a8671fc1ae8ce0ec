"""pipeline.pollers.oktopost_webhooks: an instance whose record cannot be read is not deleted.

Before issue 23 the manager took such an instance for a deleted one and retired it: every webhook
it had registered on the customer's Oktopost account was deleted.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config.instances import Instance
from pipeline.pollers.oktopost_webhooks import OktopostManager, _Managed
from pipeline.settings import load_settings


def _instance() -> Instance:
    return Instance(
        id="okto1",
        provider="oktopost",
        name="o",
        enabled=True,
        created="2026-01-01",
        modified="2026-01-01",
        credentials={"account_id": "acc", "api_key": "key"},
    )


async def test_an_unreadable_managed_instance_is_paused_not_retired(tmp_path: Path) -> None:
    manager = OktopostManager(load_settings(topic_prefix="unit.", data_dir=tmp_path))
    instance = _instance()
    manager._instances.apply(instance.id, instance, 0)
    manager._running[instance.id] = _Managed(instance, {})  # as if started: no task yet
    manager._instances._consume(b"okto1", b'{"id": "okto1"}', 1)

    await manager.step()

    assert manager._running == {}  # it does not act on configuration it cannot read
    assert manager._retiring == {}  # and does not delete the webhooks either

    manager._instances.apply(instance.id, None, 2)  # a real deletion retires it
    manager._running[instance.id] = _Managed(instance, {})
    retired: list[str] = []

    async def retire(instance_id: str, retiring: Instance) -> None:
        retired.append(instance_id)

    manager._retire = retire  # type: ignore[method-assign] - no Oktopost here
    await manager.step()
    assert retired == ["okto1"]

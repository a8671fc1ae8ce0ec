"""An instance's `callback_url` (Cloud Elements' `event.notification.callback.url`) is a shortcut:
one subscription, `cb-<instance id>`, for every event of that instance, kept in step with it.
An instance created with Cloud Elements' body keeps it in the `cloud-elements` format, signed with
its `event.notification.signature.key`.
"""

from __future__ import annotations

from pipeline.config.instances import Instance
from pipeline.config.subscriptions import create_subscription, patch_subscription
from pipeline.ingress.context import Ingress


def callback_subscription_id(instance_id: str) -> str:
    return f"cb-{instance_id}"[:64]


async def sync_callback(
    ingress: Ingress, instance_id: str, instance: Instance | None
) -> str | None:
    """Create, update or delete the instance's callback subscription; a new secret is returned."""
    subscription_id = callback_subscription_id(instance_id)
    url = instance.callback_url if instance else None
    if instance is None or url is None:
        if ingress.subscriptions.holds(subscription_id):  # also one this process cannot read
            await ingress.put_subscription(subscription_id, None)
        return None
    current = ingress.subscriptions.get(subscription_id)  # unreadable: 503, nothing changed
    wanted = {
        "url": url,
        "format": instance.callback_format,
        "signature_key": instance.callback_signature_key,
    }
    if current is None:
        created = create_subscription(
            {
                "id": subscription_id,
                "name": f"callback of {instance_id}",
                "url": url,
                "event_types": ["*"],
                "instance_ids": [instance_id],
                **wanted,
            }
        )
        await ingress.put_subscription(subscription_id, created)
        return created.secret
    changed = {key: value for key, value in wanted.items() if getattr(current, key) != value}
    if changed:
        await ingress.put_subscription(subscription_id, patch_subscription(current, changed))
    return None

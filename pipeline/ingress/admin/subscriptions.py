"""Admin API for subscriptions: CRUD on `config.subscriptions`, the delivery log, replay,
redrive and test pings (each queued on `deliveries` and answered with how many were queued).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pipeline.config.requests import NotFoundError, RequestError
from pipeline.config.subscriptions import (
    Subscription,
    create_subscription,
    list_page,
    patch_subscription,
    rotate_secret,
)
from pipeline.contract.topics import Topic
from pipeline.delivery.tasks import DeliveryTask, encode, key_of, new_task
from pipeline.events.cloudevent import parse_time, rfc3339
from pipeline.http.openapi import Answer, Operation, Param, ref
from pipeline.ingress.admin.http import ADMIN_ANSWERS, ID, INVALID, NOT_FOUND, read_json
from pipeline.ingress.context import INGRESS, Ingress
from pipeline.ingress.readmodels.retained import records_between
from pipeline.web import error, json_response


def _found(request: web.Request) -> Subscription:
    subscription = request.app[INGRESS].subscriptions.get(request.match_info["id"])
    if subscription is None:
        raise NotFoundError(f"no subscription {request.match_info['id']!r}")
    return subscription


async def create(request: web.Request) -> web.Response:
    ingress = request.app[INGRESS]
    subscription = create_subscription(await read_json(request))
    if ingress.subscriptions.holds(subscription.id):
        return error(409, "conflict", f"subscription {subscription.id!r} exists")
    await ingress.put_subscription(subscription.id, subscription)
    return json_response({**subscription.public(), "secret": subscription.secret}, 201)


async def list_all(request: web.Request) -> web.Response:
    subscriptions = list(request.app[INGRESS].subscriptions.values())
    page, total = list_page(subscriptions, dict(request.query))
    return json_response({"data": [s.public() for s in page], "total": total})


async def get_one(request: web.Request) -> web.Response:
    return json_response(_found(request).public())


async def patch(request: web.Request) -> web.Response:
    updated = patch_subscription(_found(request), await read_json(request))
    await request.app[INGRESS].put_subscription(updated.id, updated)
    return json_response(updated.public())


async def delete(request: web.Request) -> web.Response:
    ingress, subscription_id = request.app[INGRESS], request.match_info["id"]
    if not ingress.subscriptions.holds(subscription_id):  # one it cannot read is deleted too
        raise NotFoundError(f"no subscription {subscription_id!r}")
    await ingress.put_subscription(subscription_id, None)
    return web.Response(status=204)


async def rotate(request: web.Request) -> web.Response:
    rotated = rotate_secret(_found(request))
    await request.app[INGRESS].put_subscription(rotated.id, rotated)
    return json_response({**rotated.public(), "secret": rotated.secret})


async def attempts(request: web.Request) -> web.Response:
    subscription = _found(request)
    page, count = _paging(request)
    found = request.app[INGRESS].attempt_log.latest(subscription.id)
    shown = found[(page - 1) * count : page * count]
    return json_response({"data": shown, "total": len(found), "page": page, "count": count})


def _paging(request: web.Request) -> tuple[int, int]:
    try:
        page, count = int(request.query.get("page", 1)), int(request.query.get("count", 20))
    except ValueError as exc:
        raise RequestError("page", "page and count must be whole numbers") from exc
    if page < 1 or not 1 <= count <= 100:
        raise RequestError("count", "page ≥ 1 and 1 ≤ count ≤ 100")
    return page, count


async def replay(request: web.Request) -> web.Response:
    """Re-deliver the retained normalized events written in [from, to] that match."""
    subscription = _found(request)
    body = await read_json(request)
    start, end = _moment(body, "from"), _moment(body, "to")
    if start > end:
        raise RequestError("from", "must not be after to")
    ingress = request.app[INGRESS]
    topic = ingress.settings.topic(Topic.EVENTS_NORMALIZED)
    queued = 0
    async for event in records_between(ingress.settings.kafka_bootstrap, topic, start, end):
        if subscription.matches(str(event.get("type")), event.get("instanceid")):
            await _queue(ingress, new_task(subscription.id, event, reason="replay", force=True))
            queued += 1
    return json_response({"queued": queued}, 202)


async def redrive(request: web.Request) -> web.Response:
    """Re-deliver this subscription's dead letters; what was delivered since is not sent again."""
    subscription = _found(request)
    ingress = request.app[INGRESS]
    topic = ingress.settings.topic(Topic.DELIVERIES_DEAD)
    seen: set[str] = set()
    async for dead in records_between(ingress.settings.kafka_bootstrap, topic, None, None):
        if dead.get("subscription_id") != subscription.id or dead["webhook_id"] in seen:
            continue
        seen.add(dead["webhook_id"])
        await _queue(ingress, new_task(subscription.id, dead["event"], reason="redrive"))
    return json_response({"queued": len(seen)}, 202)


async def send_test(request: web.Request) -> web.Response:
    subscription = _found(request)
    now = rfc3339(datetime.now(UTC))
    ping = {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "/pipeline",
        "type": "pipeline.test",
        "subject": f"subscriptions/{subscription.id}",
        "time": now,
        "datacontenttype": "application/json",
        "receivedat": now,
        "data": {"message": "test delivery from the social events pipeline"},
    }
    await _queue(request.app[INGRESS], new_task(subscription.id, ping, reason="test", force=True))
    return json_response({"queued": 1, "event_id": ping["id"]}, 202)


async def _queue(ingress: Ingress, task: DeliveryTask) -> None:
    topic = ingress.settings.topic(Topic.DELIVERIES)
    await ingress.producer.send(topic, key_of(task), encode(task))


def _moment(body: dict[str, Any], key: str) -> datetime:
    moment = parse_time(body.get(key)) if isinstance(body.get(key), str) else None
    if moment is None:
        raise RequestError(key, "must be an RFC 3339 time, e.g. 2025-11-20T12:00:00Z")
    return moment


_SHOWN = Answer(200, "the subscription, without secrets", ref("Subscription"))
_WITH_SECRET = "the subscription with its new `secret`, shown this once"  # noqa: S105 - prose
_QUEUED = Answer(202, "queued on deliveries; how many", ref("Queued"))
_ONE = "/v1/subscriptions/{id}"
_LIST_FILTERS = (
    Param("event_type", "query", "subscriptions that would receive this type"),
    Param("name", "query", "a substring of the name"),
    Param("order", "query", "name, created or modified; a leading - reverses"),
    Param("page", "query", "from 1", {"type": "integer", "minimum": 1}),
    Param("count", "query", "20, 25, 50 or 100", {"type": "integer"}),
)
OPERATIONS = (
    Operation(
        "post",
        "/v1/subscriptions",
        "Create a subscription",
        "subscriptions",
        (
            Answer(201, _WITH_SECRET, ref("Subscription")),
            Answer(409, "a subscription with this id exists", codes=("conflict",)),
            INVALID,
            *ADMIN_ANSWERS,
        ),
        body=ref("SubscriptionInput"),
        admin=True,
    ),
    Operation(
        "get",
        "/v1/subscriptions",
        "List subscriptions",
        "subscriptions",
        (Answer(200, "a page of subscriptions", ref("SubscriptionList")), INVALID, *ADMIN_ANSWERS),
        params=_LIST_FILTERS,
        admin=True,
    ),
    Operation(
        "get",
        _ONE,
        "Show a subscription",
        "subscriptions",
        (_SHOWN, NOT_FOUND, *ADMIN_ANSWERS),
        params=(ID,),
        admin=True,
    ),
    Operation(
        "patch",
        _ONE,
        "Change a subscription",
        "subscriptions",
        (_SHOWN, NOT_FOUND, INVALID, *ADMIN_ANSWERS),
        params=(ID,),
        body=ref("SubscriptionInput"),
        admin=True,
    ),
    Operation(
        "delete",
        _ONE,
        "Delete a subscription",
        "subscriptions",
        (Answer(204, "deleted"), NOT_FOUND, *ADMIN_ANSWERS),
        params=(ID,),
        admin=True,
    ),
    Operation(
        "post",
        "/v1/subscriptions/{id}/rotate-secret",
        "Rotate the signing secret",
        "subscriptions",
        (Answer(200, _WITH_SECRET, ref("Subscription")), NOT_FOUND, *ADMIN_ANSWERS),
        description="The previous secret keeps signing, as a second signature, for 24 hours.",
        params=(ID,),
        admin=True,
    ),
    Operation(
        "get",
        "/v1/subscriptions/{id}/attempts",
        "The delivery log, newest first",
        "subscriptions",
        (Answer(200, "a page of attempts", ref("AttemptList")), NOT_FOUND, INVALID, *ADMIN_ANSWERS),
        description="The last 1,000 attempts per subscription, read from deliveries.attempts.",
        params=(ID, *_LIST_FILTERS[3:]),
        admin=True,
    ),
    Operation(
        "post",
        "/v1/subscriptions/{id}/replay",
        "Re-deliver retained events",
        "subscriptions",
        (_QUEUED, NOT_FOUND, INVALID, *ADMIN_ANSWERS),
        description="The events written to events.normalized between `from` and `to` that match "
        "the subscription, delivered again (even ones delivered before).",
        params=(ID,),
        body=ref("ReplayWindow"),
        admin=True,
    ),
    Operation(
        "post",
        "/v1/subscriptions/{id}/redrive",
        "Re-deliver the dead letters",
        "subscriptions",
        (_QUEUED, NOT_FOUND, *ADMIN_ANSWERS),
        description="Its tasks on deliveries.dead, except what was delivered since.",
        params=(ID,),
        admin=True,
    ),
    Operation(
        "post",
        "/v1/subscriptions/{id}/test",
        "Send a test ping",
        "subscriptions",
        (_QUEUED, NOT_FOUND, *ADMIN_ANSWERS),
        description="A `pipeline.test` event to the subscription's URL.",
        params=(ID,),
        admin=True,
    ),
)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/subscriptions", create)
    app.router.add_get("/subscriptions", list_all)
    app.router.add_get("/subscriptions/{id}", get_one)
    app.router.add_patch("/subscriptions/{id}", patch)
    app.router.add_delete("/subscriptions/{id}", delete)
    app.router.add_post("/subscriptions/{id}/rotate-secret", rotate)
    app.router.add_get("/subscriptions/{id}/attempts", attempts)
    app.router.add_post("/subscriptions/{id}/replay", replay)
    app.router.add_post("/subscriptions/{id}/redrive", redrive)
    app.router.add_post("/subscriptions/{id}/test", send_test)

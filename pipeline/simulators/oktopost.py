"""A stand-in for Oktopost's webhooks API and its pushes, over real HTTP.

It plays the provider side of `pipeline.oktopost` as Oktopost's documentation describes it:
webhook CRUD at `/v2/webhook` (HTTP Basic `ACCOUNT_ID:API_KEY`, form bodies, `{"Result": true, …}`
answers, the `Secret` shown only in the create answer), the delivery history at
`/v2/webhook-log/{id}`, list answers paged by `_page` counted from 0 ("Default: 0") and `_count`
(20, 25, 50 or 100; default 20) with `Total`, and `emit`, which pushes an event to every enabled
webhook of its type, signed with that webhook's Secret and retried on Oktopost's schedule (5 s,
25 s, 125 s; tests shorten it) before it is abandoned.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

RETRY_SCHEDULE = (5.0, 25.0, 125.0)
PAGE_SIZES = (20, 25, 50, 100)
PUSH_TIMEOUT = 5.0


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class OktopostState:
    """Accounts, webhooks and their logs, plus the counters tests read."""

    def __init__(
        self, accounts: dict[str, str], *, retry_schedule: Sequence[float] = RETRY_SCHEDULE
    ) -> None:
        self.accounts = dict(accounts)  # account id → api key
        self.retry_schedule = tuple(retry_schedule)
        self.webhooks: dict[str, dict[str, Any]] = {}  # id → webhook, Secret included
        self.logs: dict[str, list[dict[str, Any]]] = {}  # webhook id → attempts, oldest first
        self.created = 0
        self.abandoned = 0  # pushes given up after the last retry
        self.delivered = 0  # pushes answered 2xx
        self.log_reads = 0  # GET /v2/webhook-log/{id} requests
        # Pushes whose 2xx answers Oktopost does not see (answered after its 5 s timeout): it
        # retries them, then abandons them, though the receiver had them every time.
        self.lose_answers = 0
        # A faulty listing, for the manager's guard: these webhook ids are left out of `Items`;
        # `Total` still counts them unless `hidden_from_total` (then the listing looks complete).
        self.hidden: set[str] = set()
        self.hidden_from_total = False
        self._ids = itertools.count(1)
        self._pushes: set[asyncio.Task[None]] = set()

    def create(self, fields: dict[str, str]) -> dict[str, Any]:
        webhook_id = f"0WH{next(self._ids):09d}"
        now = _now_text()
        webhook = {
            "Id": webhook_id,
            "Name": fields.get("name", ""),
            "Description": fields.get("description", ""),
            "Event": fields["event"],
            "Url": fields["url"],
            "IsEnabled": fields.get("isEnabled", "1") not in ("0", "false"),
            "LastExecutionDate": None,
            "Created": now,
            "Modified": now,
            "Secret": secrets.token_hex(20),
        }
        self.webhooks[webhook_id] = webhook
        self.logs[webhook_id] = []
        self.created += 1
        return webhook

    def emit(self, event: str, data: dict[str, Any]) -> int:
        """Push `event` to every enabled webhook of its type (in the background); how many."""
        targets = [w for w in self.webhooks.values() if w["Event"] == event and w["IsEnabled"]]
        for webhook in targets:
            task = asyncio.get_running_loop().create_task(self._push(webhook, event, data))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
        return len(targets)

    async def settled(self) -> None:
        """Until every push so far was answered 2xx or abandoned."""
        while self._pushes:
            await asyncio.gather(*self._pushes, return_exceptions=True)

    async def _push(self, webhook: dict[str, Any], event: str, data: dict[str, Any]) -> None:
        body = orjson.dumps(
            {
                "event": event,
                "timestamp": int(time.time()),
                "webhookId": webhook["Id"],
                "data": data,
            }
        )
        signature = hmac.new(webhook["Secret"].encode(), body, hashlib.sha256).hexdigest()
        payload_id = secrets.token_hex(8)
        answers_lost = self.lose_answers > 0
        self.lose_answers -= int(answers_lost)
        timeout = aiohttp.ClientTimeout(total=PUSH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for delay in (0.0, *self.retry_schedule):
                await asyncio.sleep(delay)
                started = time.monotonic()
                status = await _post(session, webhook["Url"], body, signature, webhook["Id"])
                if answers_lost:
                    status = 0
                webhook["LastExecutionDate"] = _now_text()
                self.logs[webhook["Id"]].append(
                    {
                        "Id": secrets.token_hex(8),
                        "WebhookPayloadId": payload_id,
                        "Created": _now_text(),
                        "ResponseCode": status,
                        "ExecutionTime": round(time.monotonic() - started, 3),
                        # As the documented example: no timestamp, no webhookId.
                        "Payload": {"event": event, "data": data},
                    }
                )
                if 200 <= status < 300:
                    self.delivered += 1
                    return
        self.abandoned += 1


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, signature: str, webhook_id: str
) -> int:
    headers = {
        "content-type": "application/json",
        "X-Oktopost-Signature": signature,
        "X-Oktopost-Webhook": webhook_id,
    }
    try:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0  # no answer: the log records no response code


STATE_KEY = web.AppKey("oktopost_state", OktopostState)


def _answer(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def _refuse(status: int, message: str) -> web.Response:
    return _answer({"Result": False, "Errors": [message]}, status)


def _authorized(request: web.Request) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        account, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = request.app[STATE_KEY].accounts.get(account)
    return (
        scheme.lower() == "basic"
        and expected is not None
        and secrets.compare_digest(expected.encode(), key.encode())
    )


def _shown(webhook: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in webhook.items() if key != "Secret"}


def _page(request: web.Request, found: list[dict[str, Any]], total: int) -> web.Response:
    """Oktopost's list answer: `_page` counts from 0 (documented "Default: 0"), `_count` is 20,
    25, 50 or 100 (default 20), and `Total` counts every match, not only this page's."""
    count, page = request.query.get("_count", "20"), request.query.get("_page", "0")
    if not count.isdigit() or int(count) not in PAGE_SIZES or not page.isdigit():
        return _refuse(400, "_count must be 20, 25, 50 or 100 and _page 0 or more")
    start = int(page) * int(count)
    items = found[start : start + int(count)]
    return _answer({"Result": True, "Items": items, "Total": total})


async def _list(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    wanted = request.query.get("event")
    found = [w for w in state.webhooks.values() if wanted in (None, w["Event"])]
    shown = [_shown(w) for w in found if w["Id"] not in state.hidden]
    return _page(request, shown, len(shown) if state.hidden_from_total else len(found))


async def _get(request: web.Request) -> web.Response:
    webhook = request.app[STATE_KEY].webhooks.get(request.match_info["id"])
    if webhook is None:
        return _refuse(404, "webhook not found")
    return _answer({"Result": True, "Webhook": _shown(webhook)})


async def _create(request: web.Request) -> web.Response:
    form = {key: str(value) for key, value in (await request.post()).items()}
    if not form.get("event") or not form.get("url"):
        return _refuse(400, "event and url are required")
    return _answer({"Result": True, "Webhook": request.app[STATE_KEY].create(form)})


async def _update(request: web.Request) -> web.Response:
    webhook = request.app[STATE_KEY].webhooks.get(request.match_info["id"])
    if webhook is None:
        return _refuse(404, "webhook not found")
    form = await request.post()
    for field, key in (("name", "Name"), ("description", "Description"), ("url", "Url")):
        if field in form:
            webhook[key] = str(form[field])
    if "isEnabled" in form:
        webhook["IsEnabled"] = str(form["isEnabled"]) not in ("0", "false")
    webhook["Modified"] = _now_text()
    return _answer({"Result": True, "Webhook": _shown(webhook)})


async def _delete(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if state.webhooks.pop(request.match_info["id"], None) is None:
        return _refuse(404, "webhook not found")
    return _answer({"Result": True})


async def _log(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.log_reads += 1
    items = state.logs.get(request.match_info["id"])
    if items is None:
        return _refuse(404, "webhook not found")
    return _page(request, list(reversed(items)), len(items))  # newest first


@web.middleware
async def _basic_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    if not _authorized(request):
        return _refuse(401, "invalid account id or api key")
    response: web.StreamResponse = await handler(request)
    return response


def create_simulator(state: OktopostState) -> web.Application:
    """The simulator as an aiohttp application serving `state`."""
    app = web.Application(middlewares=[_basic_auth])
    app[STATE_KEY] = state
    app.router.add_get("/v2/webhook", _list)
    app.router.add_post("/v2/webhook", _create)
    app.router.add_get("/v2/webhook/{id}", _get)
    app.router.add_post("/v2/webhook/{id}", _update)
    app.router.add_delete("/v2/webhook/{id}", _delete)
    app.router.add_get("/v2/webhook-log/{id}", _log)
    return app

"""A stand-in for Hootsuite's REST API (OAuth2 token endpoint and messages) over real HTTP.

It plays the provider side of `pollers/`: a poller reads it exactly as it would read
platform.hootsuite.com, and tests turn its knobs to rehearse throttling, outages, slow answers and
tokens expiring in the middle of a listing. It also plays onboarding: `/oauth2/auth` consents at
once and redirects with a code, which the `authorization_code` grant exchanges exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from pipeline.providers.hootsuite_rest import LISTING_STATES, MAX_WINDOW, MESSAGE_STATE_TYPES

STATES = tuple(MESSAGE_STATE_TYPES)
DAILY_QUOTA = 100_000
REQUESTS_PER_SECOND = 20

# 40020 and 1003 are Hootsuite's documented codes; the others are this simulator's own choice.
ERR_TIME_RANGE = 40020
ERR_RATE_LIMITED = 1003
ERR_BAD_PARAMETER = 40000
ERR_UNAUTHORIZED = 40100
ERR_NOT_FOUND = 40400
ERR_UNAVAILABLE = 50300


def iso_utc(moment: datetime) -> str:
    """Hootsuite's timestamp form: ISO 8601, UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Fault:
    status: int
    remaining: int
    endpoint: str | None
    retry_after: float | str | None = None  # seconds, or an HTTP-date sent as it is


class _ApiError(Exception):
    """Raised by handlers with (status, error code, message); answered as an errors envelope."""


class SimulatorState:
    """Clients, tokens and messages the simulator serves, plus the fault knobs tests turn.

    Endpoint names, for the request counters and the fault knobs: `token`, `authorize`,
    `messages`, `message`.
    """

    def __init__(
        self,
        clients: dict[str, str] | None = None,
        *,
        expires_in: int = 3599,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients: dict[str, str] = dict(clients or {})
        self.access_tokens: dict[str, float] = {}  # token → expiry, in `clock` seconds
        self.refresh_tokens: dict[str, str] = {}  # token → the client it was issued to
        self.codes: dict[str, tuple[str, str]] = {}  # authorization code → (client, redirect URI)
        self.messages: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.expires_in = expires_in
        self.single_message_as_object = False
        self.hang_seconds = 0.0
        self.clock = clock
        self._faults: list[_Fault] = []
        # Real message ids are long numeric strings; a fixed width keeps them sortable as text.
        self._ids = itertools.count(9_000_000_001)
        self._second = (0, 0)  # (current whole second, requests within it)

    def issue_tokens(self, client_id: str) -> dict[str, Any]:
        """A fresh access/refresh token pair, in the token endpoint's response shape."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens[access] = self.clock() + self.expires_in
        self.refresh_tokens[refresh] = client_id
        return {
            "access_token": access,
            "token_Type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "scope": "offline",
        }

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """An authorization code, as the user's consent on `/oauth2/auth` would produce one."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = (client_id, redirect_uri)
        return code

    def redeem_code(self, client_id: str, code: str, redirect_uri: str) -> None:
        """Use up a code; `_ApiError` unless it was issued to this client for this redirect URI."""
        issued = self.codes.pop(code, None)
        if issued is None:
            raise _ApiError(400, ERR_BAD_PARAMETER, "invalid_grant: unknown or used code")
        if issued != (client_id, redirect_uri):
            raise _ApiError(400, ERR_BAD_PARAMETER, "invalid_grant: code issued elsewhere")

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working now; refresh tokens stay valid."""
        now = self.clock()
        self.access_tokens = dict.fromkeys(self.access_tokens, now)

    def throttle_next(
        self,
        count: int,
        *,
        endpoint: str | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next `count` requests (to `endpoint`, or any) with 429, code 1003."""
        self._faults.append(_Fault(429, count, endpoint, retry_after))

    def fail_next(self, count: int, *, endpoint: str | None = None) -> None:
        """Answer the next `count` requests (to `endpoint`, or any) with 503."""
        self._faults.append(_Fault(503, count, endpoint))

    def take_fault(self, endpoint: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.endpoint in (None, endpoint):
                fault.remaining -= 1
                return fault
        return None

    def record(self, endpoint: str) -> None:
        self.requests[endpoint] += 1
        second = int(self.clock())
        seen = self._second[1] if self._second[0] == second else 0
        self._second = (second, seen + 1)

    def rate_headers(self) -> dict[str, str]:
        used = self._second[1] if self._second[0] == int(self.clock()) else 0
        return {
            "X-Account-Quota": str(DAILY_QUOTA),
            "X-Account-Quota-Used": str(sum(self.requests.values())),
            "X-Account-Rate-Limit-Requests-Remaining": str(max(0, REQUESTS_PER_SECOND - used)),
        }

    def add_message(
        self,
        scheduled_send_time: datetime,
        *,
        state: str = "SCHEDULED",
        text: str = "",
        social_profile_id: str = "115000001",
        member_id: str = "2000001",
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a message and return it, shaped as `GET /v1/messages/{id}` returns it."""
        if state not in STATES:
            raise ValueError(f"unknown message state {state!r}")
        message_id = message_id or str(next(self._ids))
        message: dict[str, Any] = {
            "id": message_id,
            "state": state,
            "text": text,
            "socialProfile": {"id": social_profile_id},
            "scheduledSendTime": iso_utc(scheduled_send_time),
            "postId": None,
            "postUrl": None,
            "tags": [],
            "mediaUrls": [],
            "reviewers": [],
            "createdByMember": {"id": member_id},
            "lastUpdatedByMember": {"id": member_id},
            "sequenceNumber": 1,
        }
        self.messages[message_id] = message
        return message

    def set_state(self, message_id: str, state: str) -> dict[str, Any]:
        """Move a message to `state`; the sequence number tells pollers it changed."""
        if state not in STATES:
            raise ValueError(f"unknown message state {state!r}")
        message = self.messages[message_id]
        message["state"] = state
        message["sequenceNumber"] += 1
        if state == "SENT" and message["postId"] is None:
            message["postId"] = f"post-{message_id}"
            message["postUrl"] = f"https://social.example/posts/{message_id}"
        return message

    def delete_message(self, message_id: str) -> None:
        del self.messages[message_id]

    def advance(self, now: datetime | None = None) -> list[str]:
        """Send every scheduled or submitted message that is due; returns the ids that changed."""
        moment = iso_utc(now or datetime.now(UTC))
        due = [
            message["id"]
            for message in self.messages.values()
            if message["state"] in ("SCHEDULED", "SUBMITTED")
            and message["scheduledSendTime"] <= moment
        ]
        for message_id in due:
            self.set_state(message_id, "SENT")
        return due


STATE_KEY = web.AppKey("hootsuite_state", SimulatorState)


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def _error(status: int, code: int, message: str) -> web.Response:
    errors = [{"code": code, "message": message, "id": str(uuid.uuid4())}]
    return _json({"errors": errors}, status)


def _fault_response(fault: _Fault) -> web.Response:
    if fault.status == 429:
        response = _error(429, ERR_RATE_LIMITED, "rate limit exceeded")
        if isinstance(fault.retry_after, str):
            response.headers["Retry-After"] = fault.retry_after
        elif fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response
    return _error(fault.status, ERR_UNAVAILABLE, "service unavailable")


@web.middleware
async def _simulate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counting, slowness, injected faults, error envelopes and rate headers for every route."""
    state = request.app[STATE_KEY]
    endpoint = request.match_info.route.name or "unknown"
    state.record(endpoint)
    if state.hang_seconds > 0:
        await asyncio.sleep(state.hang_seconds)
    fault = state.take_fault(endpoint)
    response: web.StreamResponse
    try:
        response = _fault_response(fault) if fault else await handler(request)
    except _ApiError as exc:
        response = _error(*exc.args)
    except web.HTTPRedirection:
        raise
    except web.HTTPException as exc:
        response = _error(exc.status, exc.status * 100, exc.reason)
    response.headers.update(state.rate_headers())
    return response


def _client_id(request: web.Request, state: SimulatorState) -> str:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        login, password = "", ""
    expected = state.clients.get(login) if scheme.lower() == "basic" else None
    if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
        raise _ApiError(401, ERR_UNAUTHORIZED, "invalid client credentials")
    return login


async def _token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    client_id = _client_id(request, state)
    form = await request.post()
    grant = form.get("grant_type")
    if grant == "refresh_token":
        refresh = str(form.get("refresh_token", ""))
        if state.refresh_tokens.get(refresh) != client_id:
            raise _ApiError(400, ERR_BAD_PARAMETER, "unknown refresh token")
        del state.refresh_tokens[refresh]  # rotated: each refresh token works once
    elif grant == "authorization_code":
        code, redirect = str(form.get("code", "")), str(form.get("redirect_uri", ""))
        state.redeem_code(client_id, code, redirect)  # each code works once
    elif grant != "client_credentials":
        raise _ApiError(400, ERR_BAD_PARAMETER, "unsupported grant_type")
    return _json(state.issue_tokens(client_id))


async def _authorize(request: web.Request) -> web.StreamResponse:
    """The consent page, consenting at once: back to `redirect_uri` with a code and the state."""
    state = request.app[STATE_KEY]
    query = request.query
    client_id, redirect = query.get("client_id", ""), query.get("redirect_uri", "")
    if query.get("response_type") != "code" or client_id not in state.clients or not redirect:
        raise _ApiError(400, ERR_BAD_PARAMETER, "response_type=code, client_id, redirect_uri")
    back = {"code": state.issue_code(client_id, redirect), "state": query.get("state", "")}
    separator = "&" if "?" in redirect else "?"
    raise web.HTTPFound(redirect + separator + urlencode(back))


def _require_token(request: web.Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    state = request.app[STATE_KEY]
    if scheme.lower() != "bearer" or state.access_tokens.get(token, 0.0) <= state.clock():
        raise _ApiError(401, ERR_UNAUTHORIZED, "missing, unknown or expired access token")


def _parse_time(value: str | None, name: str) -> datetime:
    if not value:
        raise _ApiError(400, ERR_TIME_RANGE, f"{name} is required")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _ApiError(400, ERR_TIME_RANGE, f"{name} is not ISO 8601") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time_window(request: web.Request) -> tuple[str, str]:
    start = _parse_time(request.query.get("startTime"), "startTime")
    end = _parse_time(request.query.get("endTime"), "endTime")
    if end < start or end - start > MAX_WINDOW:
        raise _ApiError(400, ERR_TIME_RANGE, "endTime must be within 4 weeks after startTime")
    return iso_utc(start), iso_utc(end)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise _ApiError(400, ERR_BAD_PARAMETER, "limit must be between 1 and 100")
    return int(raw)


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def _decode_cursor(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        time_text, message_id = orjson.loads(base64.urlsafe_b64decode(cursor))
        return str(time_text), str(message_id)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise _ApiError(400, ERR_BAD_PARAMETER, "invalid cursor") from exc


def _sort_key(message: dict[str, Any]) -> tuple[str, str]:
    return message["scheduledSendTime"], message["id"]


async def _list_messages(request: web.Request) -> web.Response:
    _require_token(request)
    start, end = _time_window(request)
    limit = _limit(request)
    asked = request.query.getall("state", [])
    if len(asked) > 1 or not set(asked) <= set(LISTING_STATES):
        raise _ApiError(400, ERR_BAD_PARAMETER, f"state: one of {', '.join(LISTING_STATES)}")
    states = set(asked) or set(STATES)
    profiles = set(request.query.getall("socialProfileIds", []))
    after = _decode_cursor(request.query.get("cursor"))
    selected = sorted(
        (
            message
            for message in request.app[STATE_KEY].messages.values()
            if start <= message["scheduledSendTime"] <= end
            and message["state"] in states
            and (not profiles or message["socialProfile"]["id"] in profiles)
            and (after is None or _sort_key(message) > after)
        ),
        key=_sort_key,
    )
    page = selected[:limit]
    following = _encode_cursor(_sort_key(page[-1])) if len(selected) > limit else None
    return _json({"data": page, "metadata": {"cursor": {"next": following}}})


async def _get_message(request: web.Request) -> web.Response:
    _require_token(request)
    state = request.app[STATE_KEY]
    message = state.messages.get(request.match_info["message_id"])
    if message is None:
        raise _ApiError(404, ERR_NOT_FOUND, "message not found")
    # Hootsuite documents an object here, but its real responses carry a one-element array.
    return _json({"data": message if state.single_message_as_object else [message]})


def create_simulator(state: SimulatorState) -> web.Application:
    """The simulator as an aiohttp application serving `state`."""
    app = web.Application(middlewares=[_simulate])
    app[STATE_KEY] = state
    app.router.add_post("/oauth2/token", _token, name="token")
    app.router.add_get("/oauth2/auth", _authorize, name="authorize")
    app.router.add_get("/v1/messages", _list_messages, name="messages")
    app.router.add_get("/v1/messages/{message_id}", _get_message, name="message")
    return app


async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8090,
    state: SimulatorState | None = None,
    *,
    advance_every: float = 5.0,
) -> None:
    """Serve the simulator until cancelled, sending due messages every `advance_every` seconds."""
    state = state or SimulatorState()
    runner = web.AppRunner(create_simulator(state))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        while True:
            await asyncio.sleep(advance_every)
            state.advance()
    finally:
        await runner.cleanup()

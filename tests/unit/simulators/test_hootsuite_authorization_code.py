"""The Hootsuite simulator's onboarding: consent redirect and the one-time authorization code."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp.test_utils import TestServer

from pipeline.simulators.hootsuite import SimulatorState
from tests.unit.simulators.test_hootsuite_simulator import (
    CLIENT_ID,
    grant,
    http,
    server,
    state,
)

__all__ = ["http", "server", "state"]  # fixtures shared with the simulator's other tests
REDIRECT = "https://app.example.com/cb"


async def consent(http: aiohttp.ClientSession, server: TestServer) -> str:
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT}
    url = server.make_url("/oauth2/auth").with_query({**params, "state": "xyz"})
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302
        location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query)["state"] == ["xyz"]
    return parse_qs(location.query)["code"][0]


async def test_a_code_is_exchanged_once_for_tokens(
    http: aiohttp.ClientSession, server: TestServer, state: SimulatorState
) -> None:
    code = await consent(http, server)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    status, tokens = await grant(http, server, **form)
    assert status == 200
    assert state.refresh_tokens[tokens["refresh_token"]] == CLIENT_ID
    status, refused = await grant(http, server, **form)
    assert status == 400
    assert "invalid_grant" in refused["errors"][0]["message"]


async def test_a_code_for_another_redirect_uri_is_refused(
    http: aiohttp.ClientSession, server: TestServer
) -> None:
    code = await consent(http, server)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://evil.test"}
    assert (await grant(http, server, **form))[0] == 400

"""serve_until_signal: a member of several processes opens the port only once it can serve."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

from aiohttp import web

from pipeline.web import serve_until_signal
from tests.support.processes import free_port


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_the_port_opens_only_after_before_listening_and_a_signal_stops_it() -> None:
    port, started, gate = free_port(), asyncio.Event(), asyncio.Event()
    app = web.Application()

    async def on_startup(app: web.Application) -> None:
        started.set()

    app.on_startup.append(on_startup)
    serving = asyncio.create_task(
        serve_until_signal(
            app, "127.0.0.1", port, "unit", reuse_port=True, before_listening=gate.wait
        )
    )
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(started.wait(), 5)
        assert not _accepts(port)  # started, still loading: no connection is handed to it
        gate.set()
        deadline = time.monotonic() + 5
        while not _accepts(port):
            assert time.monotonic() < deadline, "never listened"
            await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)  # its own handler: stop, finish, clean up
        await asyncio.wait_for(serving, 15)
        assert not _accepts(port)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

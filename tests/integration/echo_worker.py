"""A faust worker built with the pipeline's own app factory; the test drives it over Kafka."""

from __future__ import annotations

from typing import Any

from pipeline.runtime.app import create_app
from pipeline.runtime.worker import run_worker
from pipeline.settings import load_settings

settings = load_settings()
app = create_app(settings)
source = app.topic(settings.topic("echo.in"), key_serializer="raw", value_serializer="raw")
sink = app.topic(settings.topic("echo.out"), key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def echo(stream: Any) -> None:
    async for key, value in stream.items():
        await sink.send(key=key, value=value.upper())


run_worker(app, settings)

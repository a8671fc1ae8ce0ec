"""A faust worker built with the pipeline's own app factory; the test drives it over Kafka."""

from __future__ import annotations

from typing import Any

from pipeline.app import create_app
from pipeline.settings import load_settings
from pipeline.worker import run_worker

settings = load_settings()
app = create_app(settings)
source = app.topic(settings.topic("echo.in"), key_serializer="raw", value_serializer="raw")
sink = app.topic(settings.topic("echo.out"), key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def echo(stream: Any) -> None:
    async for key, value in stream.items():
        await sink.send(key=key, value=value.upper())


run_worker(app, settings)

"""docker-compose.yml gives every pipeline process the same key ring, from an env file."""

from __future__ import annotations

from pipeline.settings import REPO_ROOT
from tests.unit.deploy.test_compose import PIPELINE_SERVICES, SERVICES, pipeline_env


def test_every_pipeline_process_reads_the_key_ring_from_the_env_file() -> None:
    for name in PIPELINE_SERVICES:
        assert SERVICES[name]["env_file"] == "secrets.env", name
        assert "PIPELINE_SECRET_KEYS" not in pipeline_env(name)  # never inline in the file
    assert "secrets.env" in (REPO_ROOT / ".gitignore").read_text().split()

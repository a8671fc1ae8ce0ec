"""bench/stack.py: several workers of one session."""

from __future__ import annotations

from pathlib import Path

from bench.stack import pipeline_env, session_settings, worker_envs


def test_workers_share_the_app_but_not_a_port_or_a_data_dir(tmp_path: Path) -> None:
    settings = session_settings("127.0.0.1:9092", tmp_path, "t1")
    envs = worker_envs(settings, {"PIPELINE_X": "1"}, 3)
    assert envs[0] == pipeline_env(settings, {"PIPELINE_X": "1"})  # one worker: as before
    assert len({env["PIPELINE_APP_ID"] for env in envs}) == 1
    assert len({env["PIPELINE_WORKER_WEB_PORT"] for env in envs}) == 3
    data_dirs = {env["PIPELINE_DATA_DIR"] for env in envs}
    assert len(data_dirs) == 3
    assert all(Path(d).parent == tmp_path for d in data_dirs)
    assert all(env["PIPELINE_X"] == "1" for env in envs)

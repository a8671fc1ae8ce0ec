"""The demo's configuration: every instance body is one the admin API accepts."""

from __future__ import annotations

from pipeline.config.instances import create_instance
from pipeline.demo.setup import demo_resources
from pipeline.simulators.social import YOUTUBE_CHANNEL


def test_the_demo_instances_are_valid_and_one_is_a_social_platform_end_to_end() -> None:
    resources = demo_resources("http://127.0.0.1:8090", "http://127.0.0.1:9000/hook")
    instances = [create_instance(body)[0] for path, body in resources if path == "/v1/instances"]
    [youtube] = [i for i in instances if i.provider == "youtube"]
    assert youtube.channels == [YOUTUBE_CHANNEL]
    assert youtube.api_base_url == "http://127.0.0.1:8090/websub"  # the simulator's hub
    assert youtube.signing_secret  # generated: the hub.secret the manager hands over

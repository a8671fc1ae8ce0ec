"""The ladder, `make bench` (`python -m bench …`, the default of `bench/__main__.py`): one session
of the whole pipeline at fixed rates and at its maximum, with same-session baselines (bare aiohttp,
bare aiokafka loop, bare delivery client) and the peer stage last; its flow is `session.py`."""

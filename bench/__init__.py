"""`make bench`: throughput, latency, loss and duplicates of the running pipeline, with baselines.

Flow of one session (see `session.py`): an isolated broker → `pipeline ingress` + `pipeline worker`
→ a receiver process ← deliveries; a load-generator process drives webhooks open-loop at fixed
rates and closed-loop at maximum; baselines (bare aiohttp, bare aiokafka, bare delivery client) run
in the same session so the pipeline's figures are ratios, not absolute times on a noisy machine.

`bench/poller_overhead.py` is a separate script (polling overhead) and not part of this package.
"""

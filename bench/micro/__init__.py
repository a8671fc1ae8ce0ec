"""Micro-benchmarks, each a command of its own: `python -m bench codecs` (`codecs.py`, typed
records against dicts and dataclasses), `python -m bench.micro.signing_timeit` (Standard Webhooks
signing against the reference library), `python -m bench.micro.poller_overhead` (the pollers'
CPU and requests per instance)."""

"""Drains, `python -m bench drain …`: the worker(s) alone draining a backlog the ingress accepted;
entry point `bench.drains.worker_drain.main`."""

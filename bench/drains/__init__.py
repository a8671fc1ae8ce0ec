"""Drains, `python -m bench drain …`: the worker(s) alone draining a backlog the ingress accepted,
or the bare_flow baseline (`bare_flow`, `bare_steps`, `bare_drain`; issue 25) draining it, or both
on one backlog (`--with-bare`); entry point `bench.drains.worker_drain.main`."""

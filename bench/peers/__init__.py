"""Peers, `python -m bench peer …`: the worker's normalize+dedup stage beside Quix Streams and a
bare aiokafka loop on one backlog; entry point `bench.peers.main.main`."""

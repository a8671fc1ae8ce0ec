"""`make bench` and its relatives: throughput, latency, loss and duplicates of the running
pipeline, measured against baselines, by job (`python -m bench [JOB] …`, `bench/__main__.py`):

- `ladder/`: the default job, one session of the whole pipeline at fixed rates and at its maximum
  (an isolated broker → `pipeline ingress` + `pipeline worker` → a receiver process; an open-loop
  load generator; baselines in the same session, so the figures are ratios on a noisy machine);
- `drains/`: `drain`, the worker(s) alone draining a backlog;
- `soak/`: `soak`, SIGKILL + restart rounds under load, every accepted event accounted for;
- `peers/`: `peer`, the normalize+dedup stage beside Quix Streams and a bare aiokafka loop;
- `micro/`: `codecs`, and the signing and poller-overhead scripts.

The modules left here are the parts they share: the broker, the pipeline's processes (`stack`,
`children`), the payloads, the load generator, the receiver, process meters and statistics.
"""

"""The worker's runtime on faust: consume → process → produce → ack → commit.

The agents (`pipeline.agents`) decide what each record becomes; this package owns how records
reach them and how their outputs and acks reach Kafka, and it is the only code that touches
faust's private state:

- `app`: the faust app and its settings; `worker`: the process, with its shutdown deadline.
- `faust_fixes`: the consumer's overrides (commits never pass a record in flight, and the rest);
  `faust_hot_path`: those that cut faust's CPU per record; `stall`: the watchdog behind them.
- `batching`: records read, written and acked a batch at a time; `kafka_batches`: outputs sent
  as closed partition batches.
- `tables` and `expiring_table`: the worker's state, in time buckets on disk.
"""

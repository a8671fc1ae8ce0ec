"""The common event schema: CloudEvents 1.0 with the pipeline's types, ids and lineage."""

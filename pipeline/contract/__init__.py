"""The data contract between stages: the topics, what their records hold, and how it may change.

`topics/` is its source (manifest, JSON Schemas, released versions); this package reads it.
"""

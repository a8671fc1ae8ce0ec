"""The docs' reference pages, generated from the code and the contract so they cannot drift.

`python -m pipeline.docs_gen` (`make docs-gen`) writes them under `docs/reference/`; with
`--check` it only says which are stale, as a unit test in `make test` does. Each page comes from
one source: the settings from `pipeline.settings.Settings`, the CLI from its parser, the HTTP API
from the ingress's OpenAPI document, the event catalog from `topics/events/`, the topics from the
AsyncAPI document, the metrics from `pipeline.metrics`, the alerts from
`deploy/prometheus/alerts.yml`. A development tool: it needs the `dev` extra (PyYAML).
"""

"""The package's error hierarchy: one base, and a `retriable` flag that retry code reads."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    retriable: bool = False
    code: str = "pipeline_error"


class ConfigError(PipelineError):
    """A setting or a manifest is invalid; the process cannot start."""

    code = "invalid_config"


class LocalKafkaError(PipelineError):
    """The local development broker could not be installed, started or stopped."""

    code = "local_kafka"


class MissingToolError(LocalKafkaError):
    """A program the local broker needs (java, mvn) is not installed."""

    code = "missing_tool"


class KafkaUnavailableError(PipelineError):
    """The broker did not answer in time; trying again later may succeed."""

    retriable = True
    code = "kafka_unavailable"

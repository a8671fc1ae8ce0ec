"""The pipeline's Prometheus metrics (`pipeline_` prefix, base units) and their exposition.

Every process serves `GET /metrics` from the default registry, so faust's own collectors, when
enabled, appear beside these.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Info, generate_latest

from pipeline import __version__

BUILD_INFO = Info("pipeline_build", "Version of the running pipeline process.")
BUILD_INFO.info({"version": __version__})


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every registered metric, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

"""Errors of the delivery stage (routed event → subscriber); retry code reads `retriable`."""

from __future__ import annotations

from pipeline.errors import PipelineError


class DeliveryError(PipelineError):
    """A delivery could not be made; by default a later attempt may succeed."""

    retriable = True
    code = "delivery_error"


class DestinationRefusedError(DeliveryError):
    """The callback URL may not be called: bad syntax, or an address the pipeline must not reach.

    `reason` is a short machine-readable word for dead-letter records and metric labels.
    """

    retriable = False
    code = "destination_refused"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class InvalidSecretError(DeliveryError):
    """A signing secret is not `whsec_` + base64; the message never contains the secret."""

    retriable = False
    code = "invalid_secret"

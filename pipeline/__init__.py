"""Social events pipeline: provider webhooks and polled REST state → CloudEvents → callbacks."""

__version__ = "0.1.0"

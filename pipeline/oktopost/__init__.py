"""Oktopost, managed: the instance registers its own webhooks and reads back what they missed.

The manager that runs this in `pipeline poller` is `pipeline.pollers.oktopost_webhooks`.
"""

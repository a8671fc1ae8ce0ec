"""Oktopost, managed: the instance registers its own webhooks and reads back what they missed."""

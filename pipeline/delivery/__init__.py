"""Delivery: `events.routed` → signed `POST` to each subscriber's callback URL."""

"""The HTTP front door: provider webhooks in (→ `webhooks.raw`), and the admin API."""

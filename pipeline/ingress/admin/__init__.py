"""The admin API (`/v1/...` on the ingress's port, behind its bearer token): instances,
subscriptions, OAuth onboarding, the event catalog, replay and redrive."""

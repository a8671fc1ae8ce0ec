"""Configuration on compacted topics: instances and subscriptions, and their in-memory views."""

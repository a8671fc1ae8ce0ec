"""Kafka topics read back for the admin API: the latest delivery attempts, retained records."""

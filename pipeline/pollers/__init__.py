"""Pollers: the services that pull provider state over REST and feed it into `polls.raw`."""

"""Stand-ins for the providers' APIs, served over real HTTP for tests and demos."""

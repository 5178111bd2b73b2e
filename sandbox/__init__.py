"""A stand-in for EVE SSO, ESI and Discord that keeps their contracts, for demos, tests and benchmarks."""

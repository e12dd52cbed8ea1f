"""Rolling upgrades: the plan (order and version-skew refusals) and the state read from a running cluster."""

"""Kubernetes: the API client, the version table, component configuration, drain and node changes."""

"""Cluster-wide decisions: preflight checks, the API load balancer, scaling, summaries, encryption rotation."""

"""Networking shared by the clients: the TLS context and HTTP transport, readiness polling, node addresses."""

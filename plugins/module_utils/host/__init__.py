"""Files, services and paths on a managed host (host_files, host_services, reset)."""

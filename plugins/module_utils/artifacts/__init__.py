"""Binaries and archives: the install_artifacts engine on the hosts, and the download role's cache plans."""

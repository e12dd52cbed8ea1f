"""Helpers shared by the unit and integration tiers (importable as ``support``: tests/conftest.py puts tests/ on
sys.path). Nothing here starts a process or opens a socket on import.

- :mod:`support.modules`: run a module file as Ansible does, free loopback ports, an in-process JSON HTTP server.
- :mod:`support.etcd_pki`: a throwaway TLS PKI for etcd members and their clients (``cryptography``, in-process).
- :mod:`support.upgrade_plan`: fake apiservers and etcd members for ``kube_upgrade_plan``.
- :mod:`support.artifacts`: the small etcd archive and the arguments the ``install_artifacts`` tests use.
"""

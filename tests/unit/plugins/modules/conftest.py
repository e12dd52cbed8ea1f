"""Fixtures of the module tests. The unit tier is hermetic: no etcd process, no ansible-playbook, no artifact build,
no network beyond loopback servers a test starts in this process. The tests against real etcd members and through
ansible-playbook are in tests/integration (with the etcd fixtures in tests/integration/conftest.py).

The helpers (running a module file as Ansible does, free ports, a JSON HTTP server) are in tests/support/modules.py.

- ``etcd_pki`` (session): :class:`support.etcd_pki.EtcdPki`, certificates for etcd clients made in-process.
"""

import pytest
from support.etcd_pki import EtcdPki


@pytest.fixture(scope="session")
def etcd_pki(tmp_path_factory):
    return EtcdPki(tmp_path_factory.mktemp("etcd-pki"))

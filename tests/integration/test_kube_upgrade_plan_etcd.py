"""kube_upgrade_plan run as Ansible runs it (its own interpreter, JSON arguments) against a real TLS etcd member
(fixtures in tests/integration/conftest.py), the apiservers and the Node list faked as in the unit tests
(tests/support/upgrade_plan.py)."""

import pytest
from support.upgrade_plan import NOTHING, Lab

pytestmark = pytest.mark.integration


@pytest.fixture
def lab(tmp_path):
    state = Lab(tmp_path)
    yield state
    state.close()


def test_real_etcd_over_tls(lab, etcd_lab):
    (member,) = etcd_lab.cluster("e1")
    pki = etcd_lab.pki
    rc, result = lab.run(
        etcd_members={"e1": member.client_url},
        etcd_hosts=["e1"],
        etcd_version=None,
        etcd_ca_cert=str(pki.ca),
        etcd_client_cert=str(pki.client_cert),
        etcd_client_key=str(pki.client_key),
    )
    version = etcd_lab.binaries["version"]
    assert rc == 0 and result["current"]["etcd"] == {"e1": version}, result
    assert result["hosts"]["e1"] == NOTHING and "etcd" not in result["summary"].split(";")[0]

    rc, result = lab.run(etcd_members={"e1": member.client_url}, etcd_hosts=["e1"], etcd_ca_cert=str(pki.ca))
    assert rc != 0 and result["msg"].startswith("etcd must be healthy on every member"), result  # no client cert

    member.stop()
    rc, result = lab.run(
        etcd_members={"e1": member.client_url},
        etcd_hosts=["e1"],
        etcd_ca_cert=str(pki.ca),
        etcd_client_cert=str(pki.client_cert),
        etcd_client_key=str(pki.client_key),
    )
    assert rc != 0 and "e1: %s: connection refused" % member.client_url in result["msg"], result

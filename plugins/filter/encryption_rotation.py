"""Encryption-at-rest key rotation filters (playbooks/rotate_encryption_key.yml); decisions in
plugins/module_utils/encryption_rotation.py.

kube_encryption_rotation_plan(configs, expected_provider=None, stop_after='')
    ``configs``: [{host, config}] in walking order, ``config`` the parsed encryption-config.yaml of that host.
    -> {phase, old, new, stages: [{name, keys}], stage_names, provider, resources, identity_fallback, summary, hosts}
    Starting a rotation generates the new key (32 random bytes, base64): evaluate it once (set_fact, no_log).
kube_haproxy_server_status(csv_text, backend, server) -> the server's status in haproxy's /stats;csv (UP, DOWN...)
kube_encryption_leftovers(etcd_range_answers, provider, key_name)
    -> names of the etcd keys whose value is not encrypted with key_name (etcd /v3/kv/range JSON answers)

Example::

    - ansible.builtin.set_fact:
        _plan: "{{ configs | kubesmith.cluster.kube_encryption_rotation_plan(control_plane_encryption_provider) }}"
      no_log: true
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter.load_balancer import _plain
from ansible_collections.kubesmith.cluster.plugins.module_utils import encryption_rotation


def kube_encryption_rotation_plan(configs, expected_provider=None, stop_after=""):
    try:
        states = [encryption_rotation.parse_config(str(c["host"]), _plain(c["config"])) for c in _plain(configs)]
        return encryption_rotation.plan(
            states, expected_provider=expected_provider or None, stop_after=str(stop_after or "")
        )
    except encryption_rotation.RotationError as exc:
        raise AnsibleFilterError("encryption key rotation refused: %s" % exc) from exc
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("kube_encryption_rotation_plan: expects [{host, config}] (%s)" % exc) from exc


def kube_haproxy_server_status(csv_text, backend, server):
    return encryption_rotation.haproxy_server_status(str(csv_text or ""), str(backend), str(server))


def kube_encryption_leftovers(ranges, provider, name):
    return encryption_rotation.leftovers(_plain(ranges), str(provider), str(name))


class FilterModule(object):
    def filters(self):
        return {
            "kube_encryption_rotation_plan": kube_encryption_rotation_plan,
            "kube_haproxy_server_status": kube_haproxy_server_status,
            "kube_encryption_leftovers": kube_encryption_leftovers,
        }

"""Encryption-at-rest key rotation filters (playbooks/rotate_encryption_key.yml); decisions in
plugins/module_utils/cluster/encryption_rotation.py.

kube_encryption_rotation_plan(configs, expected_provider=None, stop_after='')
    ``configs``: [{host, config}] in walking order, ``config`` the parsed encryption-config.yaml of that host.
    -> {phase, old, new, stages: [{name, keys}], stage_names, provider, resources, identity_fallback, summary, hosts}
    Starting a rotation generates the new key (32 random bytes, base64): evaluate it once (set_fact, no_log).
kube_encryption_site_keys(slurp_results, pinned, provider, secrets_stored=None, check_mode=False)
    site.yml's keys for every apiserver: ``slurp_results`` are the results of slurping encryption-config.yaml
    from every control-plane host (loop over the hosts; a missing file is a host without a configuration).
    -> {keys, provider, source, restore, notice, error}; a refusal is in ``error`` (evaluate with no_log, then
    assert on ``error``).
kube_haproxy_server_status(csv_text, backend, server) -> the server's status in haproxy's /stats;csv (UP, DOWN...)
kube_encryption_leftovers(etcd_range_answers, provider, key_name)
    -> names of the etcd keys whose value is not encrypted with key_name (etcd /v3/kv/range JSON answers)

Example::

    - ansible.builtin.set_fact:
        _plan: "{{ configs | kubesmith.cluster.kube_encryption_rotation_plan(control_plane_encryption_provider) }}"
      no_log: true
"""

import base64

import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import encryption_rotation
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import plain as _plain


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


def _unreadable(host, why):
    message = "cannot use the encryption configuration on %s: %s. Nothing was changed." % (host, why)
    return {"keys": [], "provider": "", "source": "", "restore": [], "notice": "", "error": message}


def kube_encryption_site_keys(slurp_results, pinned, provider, secrets_stored=None, check_mode=False):
    reads = []
    for result in _plain(slurp_results) or []:
        host = str(result.get("item"))
        if result.get("content"):
            try:
                config = yaml.safe_load(base64.b64decode(result["content"]))
            except (ValueError, yaml.YAMLError):
                return _unreadable(host, "it is not valid YAML")
            reads.append({"host": host, "config": config})
        elif "file not found" in str(result.get("msg", "")).lower():
            reads.append({"host": host, "config": None})
        else:
            return _unreadable(host, str(result.get("msg") or "no answer"))
    stored = None if secrets_stored in (None, "") else int(secrets_stored)
    return encryption_rotation.site_keys(reads, _plain(pinned) or [], str(provider or ""), stored, bool(check_mode))


def kube_haproxy_server_status(csv_text, backend, server):
    return encryption_rotation.haproxy_server_status(str(csv_text or ""), str(backend), str(server))


def kube_encryption_leftovers(ranges, provider, name):
    return encryption_rotation.leftovers(_plain(ranges), str(provider), str(name))


class FilterModule(object):
    def filters(self):
        return {
            "kube_encryption_rotation_plan": kube_encryption_rotation_plan,
            "kube_encryption_site_keys": kube_encryption_site_keys,
            "kube_haproxy_server_status": kube_haproxy_server_status,
            "kube_encryption_leftovers": kube_encryption_leftovers,
        }

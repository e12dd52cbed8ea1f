"""Upgrade filters.

upgrade_node_state(node, version) -> 'ready' | a short reason ('kubelet v1.20.2, waiting for v1.20.2+kubesmith.1',
                                     'Ready=False: KubeletNotReady ...')
    ``node`` is a Node object (``kubectl get node -o json``, parsed); 'ready' when its Ready condition is True and
    its kubelet reports ``version`` (compared as Kubernetes versions, build metadata included).
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv


def upgrade_node_state(node, version):
    if not isinstance(node, dict):
        raise AnsibleFilterError("kubesmith.cluster.upgrade_node_state expects a Node object, got %r" % (node,))
    try:
        wanted = str(kv.parse_version(version))
        reported = (node.get("status") or {}).get("nodeInfo", {}).get("kubeletVersion", "")
        running = str(kv.parse_version(reported)) if reported else ""
    except kv.KubeVersionError as exc:
        raise AnsibleFilterError("kubesmith.cluster.upgrade_node_state: %s" % exc) from exc
    if running != wanted:
        return "kubelet %s, waiting for %s" % (running or "unknown", wanted)
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return "ready"
            return "Ready=%s: %s %s" % (
                condition.get("status"),
                condition.get("reason", ""),
                condition.get("message", ""),
            )
    return "no Ready condition yet"


class FilterModule:
    def filters(self):
        return {"upgrade_node_state": upgrade_node_state}

"""cluster_summary(api_version, nodes, etcd, certificates, next_steps) -> list of lines.

The logic is in module_utils/cluster/summary.py."""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.summary import summary_lines


def cluster_summary(api_version, nodes, etcd, certificates, next_steps=()):
    try:
        return summary_lines(api_version, nodes, etcd, certificates, next_steps)
    except (AttributeError, TypeError, KeyError) as exc:
        raise AnsibleFilterError("kubesmith.cluster.cluster_summary: unexpected input: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"cluster_summary": cluster_summary}
